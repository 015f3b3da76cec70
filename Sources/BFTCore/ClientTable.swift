/// A map from client id to a value: an array indexed by client id for ids below `denseMax` (clients
/// are numbered from 0), a dictionary for any others.
///
/// Same contents as a `[ClientID: Value]`; a replica's reply cache and waiting requests (PBFT rules R2,
/// V1; HotStuff's client table) are read and written several times per executed request, and an array
/// index costs no hashing. Only requests with a valid client signature reach these tables, so ids are
/// the cluster's clients. Nothing iterates the dictionary to decide behaviour: `sortedClients` sorts.
public struct ClientTable<Value>: ExpressibleByDictionaryLiteral {
    // Inlinable so that the protocol modules get code specialised for their value type: generic, every
    // `nil` test on `dense` goes through the value's metadata (`sortedClients` alone was 2 % of a
    // Twins-sized PBFT fuzz run when this type moved here from PBFT).
    @usableFromInline static var denseMax: Int { 1 << 12 }
    @usableFromInline var dense: [Value?] = []
    @usableFromInline var sparse: [ClientID: Value] = [:]
    @usableFromInline var storedCount = 0

    /// Clients with a value.
    @inlinable public var count: Int { storedCount }

    @inlinable
    public init() {}

    @inlinable
    public init(dictionaryLiteral elements: (ClientID, Value)...) {
        for (client, value) in elements { self[client] = value }
    }

    @inlinable
    public var isEmpty: Bool { count == 0 }

    @inlinable
    public subscript(client: ClientID) -> Value? {
        get {
            if client >= 0 && client < ClientTable.denseMax {
                return client < dense.count ? dense[client] : nil
            }
            return sparse[client]
        }
        set {
            guard client >= 0 && client < ClientTable.denseMax else {
                let old = newValue.map { sparse.updateValue($0, forKey: client) } ?? sparse.removeValue(forKey: client)
                storedCount += (newValue == nil ? 0 : 1) - (old == nil ? 0 : 1)
                return
            }
            if client >= dense.count {
                guard newValue != nil else { return }
                dense.append(contentsOf: repeatElement(nil, count: client + 1 - dense.count))
            }
            // Tested through a buffer pointer: `dense[client] == nil` would copy (and retain) the old value.
            let hadValue = dense.withUnsafeBufferPointer { $0[client] != nil }
            storedCount += (newValue == nil ? 0 : 1) - (hadValue ? 1 : 0)
            dense[client] = newValue
        }
    }

    /// Removes the value of `client` when `shouldRemove` holds for it, testing the value in place
    /// (reading it through the subscript would copy it, retaining every buffer it holds).
    @inlinable
    public mutating func removeValue(for client: ClientID, where shouldRemove: (Value) -> Bool) {
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
            storedCount -= 1
        }
    }

    /// Client ids with a value, ascending.
    @inlinable
    public var sortedClients: [ClientID] {
        var out: [ClientID] = []
        out.reserveCapacity(count)
        for client in dense.indices where dense[client] != nil { out.append(client) }
        out.append(contentsOf: sparse.keys.sorted())
        out.sort()
        return out
    }
}

extension ClientTable: Equatable where Value: Equatable {
    /// Same clients with equal values (however the dense part grew).
    @inlinable
    public static func == (a: ClientTable, b: ClientTable) -> Bool {
        let clients = a.sortedClients
        return clients == b.sortedClients && clients.allSatisfy { a[$0] == b[$0] }
    }
}

extension Dictionary where Key == ClientID {
    @inlinable
    public init(_ table: ClientTable<Value>) {
        self.init(minimumCapacity: table.count)
        for client in table.sortedClients { self[client] = table[client] }
    }
}
