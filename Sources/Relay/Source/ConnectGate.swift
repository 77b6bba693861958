/// Limits how many tenants are connecting (log in, fetch a socket URL, connect, subscribe) at once.
///
/// A relay that starts, or comes back after a PBX outage, with a thousand tenants would otherwise
/// send a thousand logins in the same instant: hard on the PBX, and every one of those requests'
/// buffers is alive at the same moment, a peak that the heap keeps long after.
public actor ConnectGate {
    private let limit: Int
    private var inUse = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    public init(limit: Int) { self.limit = max(limit, 1) }

    /// Runs `body` when a place is free.
    public func run<T: Sendable>(_ body: @Sendable () async throws -> T) async rethrows -> T {
        if inUse >= limit {
            await withCheckedContinuation { waiting.append($0) }
        } else {
            inUse += 1
        }
        defer { release() }
        return try await body()
    }

    private func release() {
        if waiting.isEmpty {
            inUse -= 1
        } else {
            // The place passes straight to the next waiter.
            waiting.removeFirst().resume()
        }
    }
}
