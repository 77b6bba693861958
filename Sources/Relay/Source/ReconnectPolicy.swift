/// How long a tenant waits before its next connection attempt: the policy of ``XelionTenantSource``,
/// with no I/O and no clock of its own.
///
/// The PBX does not replay what it sent while no socket was subscribed, so every second of waiting
/// after a working connection dropped is a second of calls missing. A connection that was
/// established is therefore retried within ``quickRetry`` (jittered), however often it drops; the
/// exponential backoff is for attempts that fail before that (refused, TLS, login, socket URL, a
/// close right after the upgrade), so a PBX that turns every attempt away is not hammered.
public struct ReconnectPolicy: Sendable, Equatable {
    /// What the last attempt came to.
    public enum Outcome: Sendable, Equatable {
        /// Subscribed, and then lived `lived` (monotonic) having carried `messages` messages.
        case dropped(lived: Duration, messages: Int)
        /// It failed before a subscription was in place.
        case failed
        /// The PBX refused the tenant for a reason an operator must fix (a wrong password).
        case needsOperator
        /// The PBX asked us to slow down (429), for `retryAfter` when it said.
        case throttled(retryAfter: Duration?)
    }

    public var backoff: Backoff
    /// The wait after an error an operator must fix: long, so a wrong password never hammers the
    /// PBX into locking the account.
    public var operatorRetry: Duration
    /// A subscribed connection that lived this long, or carried a message, was established.
    public var establishedAfter: Duration
    /// The ceiling of the jittered wait after an established connection dropped.
    public var quickRetry: Duration
    /// The longest `Retry-After` obeyed: one 429 must not silence a tenant for a day.
    public var maxRetryAfter: Duration

    public init(
        backoff: Backoff = Backoff(), operatorRetry: Duration = .seconds(300), establishedAfter: Duration = .seconds(1),
        quickRetry: Duration = .seconds(2), maxRetryAfter: Duration = .seconds(900)
    ) {
        self.backoff = backoff
        self.operatorRetry = operatorRetry
        self.establishedAfter = establishedAfter
        self.quickRetry = quickRetry
        self.maxRetryAfter = maxRetryAfter
    }

    /// The wait before the next attempt after `outcome`.
    public mutating func wait<G: RandomNumberGenerator>(after outcome: Outcome, using random: inout G) -> Duration {
        switch outcome {
        case .dropped(let lived, let messages) where lived >= establishedAfter || messages > 0:
            backoff.reset()
            return Self.jittered(upTo: quickRetry, using: &random)
        case .dropped, .failed:
            return backoff.next(using: &random)
        case .needsOperator:
            return operatorRetry
        case .throttled(let retryAfter):
            let asked = min(max(retryAfter ?? .zero, .zero), maxRetryAfter)
            return max(asked, backoff.next(using: &random))
        }
    }

    public mutating func wait(after outcome: Outcome) -> Duration {
        var random = SystemRandomNumberGenerator()
        return wait(after: outcome, using: &random)
    }

    /// Uniform in a tenth of `ceiling` up to `ceiling`: never at once, so that a thousand tenants
    /// dropped together by a load balancer do not all come back in the same millisecond.
    static func jittered<G: RandomNumberGenerator>(upTo ceiling: Duration, using random: inout G) -> Duration {
        let high = max(ceiling.components.seconds * 1_000_000 + ceiling.components.attoseconds / 1_000_000_000_000, 1)
        return .microseconds(Int64.random(in: (high / 10)...high, using: &random))
    }
}
