import Synchronization
import Testing

@testable import Relay

/// Counts callers inside the gate.
final class Occupancy: Sendable {
    let state = Mutex((now: 0, most: 0, done: 0))
}

@Suite("Connect gate")
struct ConnectGateTests {
    @Test("never lets more than its limit connect at once, and lets everyone through")
    func limit() async {
        let gate = ConnectGate(limit: 3)
        let occupancy = Occupancy()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<40 {
                group.addTask {
                    await gate.run {
                        occupancy.state.withLock {
                            $0.now += 1
                            $0.most = max($0.most, $0.now)
                        }
                        await Task.yield()
                        occupancy.state.withLock {
                            $0.now -= 1
                            $0.done += 1
                        }
                    }
                }
            }
        }
        let result = occupancy.state.withLock { $0 }
        #expect(result.done == 40)
        #expect(result.most <= 3)
        #expect(result.most >= 1)
    }
}
