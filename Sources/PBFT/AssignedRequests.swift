import BFTCore

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
