import BFTCore

/// A map from client id to a value: an array indexed by client id for ids below `denseMax` (clients
/// are numbered from 0), a dictionary for any others.
///
/// Same contents as a `[ClientID: Value]`; the reply cache and the waiting requests (rules R2, V1) are
/// read and written several times per executed request per replica, and an array index costs no
/// hashing. Only requests with a valid client signature reach these tables, so ids are the cluster's
/// clients. Nothing iterates the dictionary to decide behaviour: `sortedClients` sorts.
struct ClientTable<Value>: ExpressibleByDictionaryLiteral {
    static var denseMax: Int { 1 << 12 }
    private var dense: [Value?] = []
    private var sparse: [ClientID: Value] = [:]
    private(set) var count = 0

    init() {}

    init(dictionaryLiteral elements: (ClientID, Value)...) {
        for (client, value) in elements { self[client] = value }
    }

    var isEmpty: Bool { count == 0 }

    subscript(client: ClientID) -> Value? {
        get {
            if client >= 0 && client < ClientTable.denseMax {
                return client < dense.count ? dense[client] : nil
            }
            return sparse[client]
        }
        set {
            guard client >= 0 && client < ClientTable.denseMax else {
                let old = newValue.map { sparse.updateValue($0, forKey: client) } ?? sparse.removeValue(forKey: client)
                count += (newValue == nil ? 0 : 1) - (old == nil ? 0 : 1)
                return
            }
            if client >= dense.count {
                guard newValue != nil else { return }
                dense.append(contentsOf: repeatElement(nil, count: client + 1 - dense.count))
            }
            // Tested through a buffer pointer: `dense[client] == nil` would copy (and retain) the old value.
            let hadValue = dense.withUnsafeBufferPointer { $0[client] != nil }
            count += (newValue == nil ? 0 : 1) - (hadValue ? 1 : 0)
            dense[client] = newValue
        }
    }

    /// Removes the value of `client` when `shouldRemove` holds for it, testing the value in place
    /// (reading it through the subscript would copy it, retaining every buffer it holds).
    mutating func removeValue(for client: ClientID, where shouldRemove: (Value) -> Bool) {
        guard client >= 0 && client < ClientTable.denseMax else {
            if let v = sparse[client], shouldRemove(v) { self[client] = nil }
            return
        }
        guard client < dense.count else { return }
        let remove = dense.withUnsafeBufferPointer { all -> Bool in
            switch all[client] {
            case .some(let v): return shouldRemove(v)
            case .none: return false
            }
        }
        if remove {
            dense[client] = nil
            count -= 1
        }
    }

    /// Client ids with a value, ascending.
    var sortedClients: [ClientID] {
        var out: [ClientID] = []
        out.reserveCapacity(count)
        for client in dense.indices where dense[client] != nil { out.append(client) }
        out.append(contentsOf: sparse.keys.sorted())
        out.sort()
        return out
    }
}

extension Dictionary where Key == ClientID {
    init(_ table: ClientTable<Value>) {
        self.init(minimumCapacity: table.count)
        for client in table.sortedClients { self[client] = table[client] }
    }
}

/// The requests a replica proposed or accepted in its current view and has not executed (rule N2:
/// the primary assigns each request one sequence number): a set of `RequestID`s.
///
/// A correct client has one request outstanding, so nearly always a client has at most one assigned
/// request; its timestamp sits in a `ClientTable` (an array index, no hashing). Any further request
/// of the same client (retransmitted across views, or a faulty client) goes to an ordinary set, which
/// is hashed only when it is not empty. Same membership as a `Set<RequestID>`; nothing iterates the
/// set to decide behaviour.
struct AssignedRequests {
    private var first = ClientTable<UInt64>()
    private var others: Set<RequestID> = []

    func contains(_ request: RequestID) -> Bool {
        if first[request.client] == request.timestamp { return true }
        return !others.isEmpty && others.contains(request)
    }

    mutating func insert(_ request: RequestID) {
        guard !contains(request) else { return }
        if first[request.client] == nil {
            first[request.client] = request.timestamp
        } else {
            others.insert(request)
        }
    }

    mutating func remove(_ request: RequestID) {
        if first[request.client] == request.timestamp {
            first[request.client] = nil
        } else if !others.isEmpty {
            others.remove(request)
        }
    }

    mutating func removeAll() {
        first = ClientTable()
        others.removeAll()
    }

    /// Every member in (client, timestamp) order: a canonical view for state fingerprints.
    var sortedMembers: [RequestID] {
        var out = first.sortedClients.map { RequestID(client: $0, timestamp: first[$0]!) }
        out += others.sorted { ($0.client, $0.timestamp) < ($1.client, $1.timestamp) }
        return out
    }

    mutating func removeAll(where shouldRemove: (RequestID) -> Bool) {
        for client in first.sortedClients {
            if let timestamp = first[client], shouldRemove(RequestID(client: client, timestamp: timestamp)) {
                first[client] = nil
            }
        }
        if !others.isEmpty { others = others.filter { !shouldRemove($0) } }
    }
}
