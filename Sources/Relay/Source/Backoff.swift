/// Capped exponential backoff with full jitter: the n-th wait is uniform in `0...min(cap, base·2ⁿ)`,
/// so a thousand tenants that lost the PBX at the same moment do not come back at the same moment.
public struct Backoff: Sendable, Equatable {
    public var base: Duration
    public var cap: Duration
    public private(set) var attempt = 0

    public init(base: Duration = .seconds(1), cap: Duration = .seconds(60)) {
        self.base = base
        self.cap = cap
    }

    /// The next wait; each call doubles the ceiling until it reaches the cap.
    public mutating func next<G: RandomNumberGenerator>(using generator: inout G) -> Duration {
        let ceiling = min(cap, base * (1 << min(attempt, 30)))
        attempt += 1
        let nanoseconds = max(
            Int64(ceiling.components.seconds) * 1_000_000_000 + ceiling.components.attoseconds / 1_000_000_000, 0)
        return .nanoseconds(Int64.random(in: 0...nanoseconds, using: &generator))
    }

    public mutating func next() -> Duration {
        var generator = SystemRandomNumberGenerator()
        return next(using: &generator)
    }

    /// After a healthy period the next failure starts from the bottom again.
    public mutating func reset() { attempt = 0 }
}
