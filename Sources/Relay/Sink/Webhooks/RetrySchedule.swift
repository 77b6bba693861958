import Foundation

/// When a failed webhook delivery is tried again: a fixed schedule with jitter, stretched by a
/// receiver's `Retry-After` within bounds. When it runs out, the event becomes a dead letter.
public struct RetrySchedule: Sendable, Equatable {
    /// The wait before each attempt after the first failure; the default is the Standard Webhooks
    /// reference schedule: at once, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
    public var delays: [Duration]
    /// Each wait is spread by up to this fraction either way, so endpoints that failed together do
    /// not all come back at the same second.
    public var jitter: Double
    /// The longest `Retry-After` honoured.
    public var maxRetryAfter: Duration

    public init(
        delays: [Duration] = [
            .zero, .seconds(5), .seconds(300), .seconds(1800), .seconds(7200), .seconds(18000), .seconds(36000), .seconds(36000),
        ],
        jitter: Double = 0.1,
        maxRetryAfter: Duration = .seconds(3600)
    ) {
        self.delays = delays
        self.jitter = jitter
        self.maxRetryAfter = maxRetryAfter
    }

    /// The wait before attempt `failures + 1`, or nil when the schedule has run out (a dead letter).
    /// `retryAfter` from the receiver lengthens the wait, never shortens it, up to `maxRetryAfter`.
    public func delay<R: RandomNumberGenerator>(
        afterFailures failures: Int, retryAfter: Duration? = nil, using random: inout R
    ) -> Duration? {
        guard failures >= 1, failures <= delays.count else { return nil }
        var wait = delays[failures - 1]
        if wait > .zero, jitter > 0 {
            let spread = Double.random(in: -jitter...jitter, using: &random)
            wait = wait * (1 + spread)
        }
        if let retryAfter { wait = max(wait, min(retryAfter, maxRetryAfter)) }
        return wait
    }

    public func delay(afterFailures failures: Int, retryAfter: Duration? = nil) -> Duration? {
        var random = SystemRandomNumberGenerator()
        return delay(afterFailures: failures, retryAfter: retryAfter, using: &random)
    }
}
