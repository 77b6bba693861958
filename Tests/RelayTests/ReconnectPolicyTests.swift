import Testing

@testable import Relay

@Suite("Reconnect policy")
struct ReconnectPolicyTests {
    @Test("an established connection that drops is retried within the quick ceiling however often, never at once")
    func established() {
        var policy = ReconnectPolicy()
        for _ in 0..<1_000 {
            let wait = policy.wait(after: .dropped(lived: .seconds(2), messages: 0))
            #expect(wait <= .seconds(2) && wait >= .milliseconds(200), "\(wait)")
        }
        #expect(policy.backoff.attempt == 0)
        // Short-lived but it carried messages: established too.
        #expect(policy.wait(after: .dropped(lived: .milliseconds(100), messages: 3)) <= .seconds(2))
    }

    @Test("attempts that fail before a subscription, or close right after it, wait longer each time up to the cap")
    func failing() {
        var policy = ReconnectPolicy()
        var ceilings: [Duration] = []
        for attempt in 0..<10 {
            var highest = Duration.zero
            for _ in 0..<200 {
                var copy = policy
                highest = max(
                    highest, copy.wait(after: attempt % 2 == 0 ? .failed : .dropped(lived: .milliseconds(50), messages: 0)))
            }
            ceilings.append(highest)
            _ = policy.wait(after: .failed)
        }
        #expect(ceilings[0] <= .seconds(1))
        #expect(ceilings[6] > .seconds(30), "grows toward the 60 s cap: \(ceilings)")
        #expect(ceilings.allSatisfy { $0 <= .seconds(60) })
        // A working connection starts the backoff over.
        _ = policy.wait(after: .dropped(lived: .seconds(10), messages: 5))
        #expect(policy.wait(after: .failed) <= .seconds(1))
    }

    @Test("a Retry-After from the PBX is obeyed up to 15 minutes, whatever it asks")
    func retryAfter() {
        var policy = ReconnectPolicy()
        #expect(policy.wait(after: .throttled(retryAfter: .seconds(86_400))) == .seconds(900))
        #expect(policy.wait(after: .throttled(retryAfter: .seconds(Int64.max))) == .seconds(900))
        #expect(policy.wait(after: .throttled(retryAfter: .seconds(-5))) <= .seconds(60))
        #expect(policy.wait(after: .throttled(retryAfter: .seconds(120))) >= .seconds(120))
        #expect(policy.wait(after: .needsOperator) == .seconds(300))
    }
}
