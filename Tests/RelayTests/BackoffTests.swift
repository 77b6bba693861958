import Testing

@testable import Relay

@Suite("Backoff")
struct BackoffTests {
    @Test("waits grow to the cap with full jitter, and start over after a reset")
    func growth() {
        var backoff = Backoff(base: .seconds(1), cap: .seconds(30))
        var ceilings: [Duration] = []
        for attempt in 0..<10 {
            var highest = Duration.zero
            for _ in 0..<200 {
                var copy = backoff
                let wait = copy.next()
                #expect(wait >= .zero)
                #expect(wait <= min(.seconds(30), .seconds(1 << attempt)))
                highest = max(highest, wait)
            }
            ceilings.append(highest)
            _ = backoff.next()
        }
        #expect(ceilings[0] > .milliseconds(500), "jitter spreads over the whole range")
        #expect(ceilings[9] > .seconds(20), "later attempts reach toward the cap")
        backoff.reset()
        #expect(backoff.next() <= .seconds(1))
    }
}
