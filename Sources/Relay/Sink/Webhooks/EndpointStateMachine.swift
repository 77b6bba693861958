import Foundation
import Logging

/// The delivery policy of one CRM endpoint, without I/O or clocks of its own: the answer to an
/// attempt goes in, what to record and log comes out, and the endpoint's own state (down, paused,
/// stopped) moves along. ``WebhookDeliverer`` makes the requests and carries the actions out.
///
/// - A 2xx is delivered. An endpoint that was down is back: its waiting retries go at once.
/// - No answer, a timeout, 408, 429 or a 5xx says the endpoint is down, not that the event is bad:
///   it is probed while down, and 429 and 502/503/504 pause the whole endpoint.
/// - 410 stops the endpoint until the next start.
/// - Any other answer refuses the event: the endpoint is up, the event follows its schedule.
struct EndpointStateMachine: Sendable {
    /// What one POST came back with.
    enum Answer: Sendable, Equatable {
        case response(status: Int, reason: String, retryAfter: String? = nil, location: String? = nil)
        /// No answer within the endpoint's timeout.
        case timeout
        /// No answer at all: refused, reset, a TLS failure.
        case transportError(String)
    }

    /// The delivery an answer belongs to.
    struct Attempt: Sendable, Equatable {
        /// Failed attempts on record before this one.
        var previousAttempts: Int
        /// Tried ahead of its schedule because the endpoint is down: a failure leaves its attempts
        /// and its next retry as they were.
        var probe: Bool
        /// When its schedule had it due.
        var scheduledAt: Date
    }

    /// What the deliverer does with an answer.
    enum Action: Sendable, Equatable {
        /// Record the delivery with this many attempts.
        case delivered(attempts: Int, recovery: Recovery?)
        /// Record the failure and log it.
        case failed(Failure)
    }

    /// The endpoint answered after it was down: move its waiting retries up, then log
    /// ``recoveryLevel(down:movedRetries:)``.
    struct Recovery: Sendable, Equatable {
        var down: Duration
    }

    struct Failure: Sendable, Equatable {
        /// What went wrong, as recorded and logged.
        var error: String
        /// The attempts to record (unchanged by a probe).
        var attempts: Int
        /// When to try again; nil makes the delivery a dead letter.
        var retryAt: Date?
        var level: Logger.Level
        var message: String
        /// Done before the failure is recorded, so that the refused event is not moved up with the rest.
        var recovery: Recovery?
    }

    let schedule: RetrySchedule
    /// How often the oldest waiting event is tried while the endpoint is down and nothing else tries it.
    let probeInterval: Duration
    /// How long an attempt waits for an answer, for the failure's text.
    let timeout: Duration

    /// 429 and 502/503/504 pause the whole endpoint, not just the one event. Monotonic: a step of the
    /// wall clock must not hold the endpoint for an hour, or end its pause early.
    var pausedUntil: ContinuousClock.Instant?
    /// Stopped by a 410 until the next start.
    private(set) var disabled = false
    /// Since when the endpoint is down; nil since an answer.
    private(set) var downSince: ContinuousClock.Instant?
    /// The newest failure that said the endpoint is down.
    private(set) var lastDownFailure: ContinuousClock.Instant?

    init(schedule: RetrySchedule, probeInterval: Duration, timeout: Duration) {
        self.schedule = schedule
        self.probeInterval = probeInterval
        self.timeout = timeout
    }

    /// Stopped or paused: nothing new is tried.
    func isHeld(at now: ContinuousClock.Instant) -> Bool {
        disabled || (pausedUntil.map { $0 > now } ?? false)
    }

    /// When the oldest waiting event is to be tried ahead of its schedule; nil while the endpoint is up.
    var nextProbe: ContinuousClock.Instant? { lastDownFailure.map { $0 + probeInterval } }

    /// The endpoint's newest failure on record, from before the start, said it was down: probed at
    /// once, and every waiting retry due at its first answer, as if the outage had been seen in this run.
    mutating func wasDown(lastFailure: String, now: ContinuousClock.Instant) -> Bool {
        guard Self.isOutage(lastFailure) else { return false }
        downSince = now
        lastDownFailure = now - probeInterval
        return true
    }

    /// The answer to `attempt`, at `now` (monotonic) and `wallClock` (for the retry's time on record).
    mutating func receive<R: RandomNumberGenerator>(
        _ answer: Answer, for attempt: Attempt, now: ContinuousClock.Instant, wallClock: Date, random: inout R
    ) -> Action {
        let attempts = attempt.previousAttempts + 1
        let failure: String
        var retryAfter: Duration?
        var pauseEndpoint = false
        var endpointDown = true
        switch answer {
        case .response(let status, _, _, _) where (200..<300).contains(status):
            return .delivered(attempts: attempts, recovery: answered(now: now))
        case .response(410, _, _, _):
            disabled = true
            return .failed(
                Failure(
                    error: "410 Gone: endpoint disabled", attempts: attempts, retryAt: wallClock, level: .error,
                    message:
                        "the endpoint answered 410 Gone: deliveries to it are stopped until the configuration changes; its events stay in the journal",
                    recovery: nil))
        case .response(let status, let reason, let retryAfterHeader, let location):
            failure =
                "HTTP \(status) \(reason)"
                + ((300..<400).contains(status)
                    ? ", redirect to \(location.map(Self.display) ?? "nowhere") not followed" : "")
            retryAfter = Self.retryAfter(retryAfterHeader, now: wallClock)
            pauseEndpoint = [429, 502, 503, 504].contains(status)
            endpointDown = Self.isOutage(status: status)
        case .timeout:
            failure = "no answer within \(timeout)"
        case .transportError(let error):
            failure = error
        }
        var recovery: Recovery?
        if endpointDown {
            downSince = downSince ?? now
            lastDownFailure = now
            if attempt.probe {
                return .failed(
                    Failure(
                        error: failure, attempts: attempt.previousAttempts, retryAt: attempt.scheduledAt, level: .info,
                        message: "the endpoint is still down", recovery: nil))
            }
        } else {
            // It answered, refusing this event (a 4xx): the endpoint itself is up.
            recovery = answered(now: now)
        }
        let delay = schedule.delay(afterFailures: attempts, retryAfter: retryAfter, using: &random)
        if pauseEndpoint, let delay {
            // As long as the endpoint asks (Retry-After); otherwise no longer than a probe's interval,
            // so that the event's own schedule (hours, later on) does not silence the whole endpoint.
            let until = now + (retryAfter == nil ? min(delay, probeInterval) : delay)
            pausedUntil = max(pausedUntil ?? until, until)
        }
        let retryAt = delay.map { wallClock.addingTimeInterval($0.seconds) }
        return .failed(
            Failure(
                error: failure, attempts: attempts, retryAt: retryAt, level: retryAt == nil ? .warning : .info,
                message: retryAt == nil
                    ? "delivery failed for the last time; the event is a dead letter (`callrelay deliveries retry` sends it again)"
                    : "delivery failed; retrying",
                recovery: recovery))
    }

    /// The endpoint answered: if it was down, it is back.
    private mutating func answered(now: ContinuousClock.Instant) -> Recovery? {
        defer {
            downSince = nil
            lastDownFailure = nil
        }
        return downSince.map { Recovery(down: $0.duration(to: now)) }
    }

    /// Whether a recorded failure says the endpoint was down rather than refusing the event: no
    /// connection, no answer in time, 408, 429 or a 5xx. Read from the texts ``receive`` makes.
    static func isOutage(_ failure: String) -> Bool {
        if failure.hasPrefix("410 ") { return false }
        guard failure.hasPrefix("HTTP ") else { return true }
        guard let status = Int(failure.dropFirst(5).prefix(3)) else { return true }
        return isOutage(status: status)
    }

    /// An answer that says the endpoint is down rather than refusing the event.
    static func isOutage(status: Int) -> Bool { status >= 500 || status == 408 || status == 429 }

    /// How loudly a recovery is logged. A lone 5xx between successes (a CRM that fails one request
    /// in fifty) marks the endpoint down until the next answer, a few milliseconds later: a notice
    /// for each would bury the real outages, and its failure was logged already.
    static func recoveryLevel(down: Duration, movedRetries: Int) -> Logger.Level {
        movedRetries > 0 || down >= .seconds(1) ? .notice : .debug
    }

    /// `Retry-After` in seconds or as an HTTP date.
    static func retryAfter(_ value: String?, now: Date) -> Duration? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if let seconds = Int(value) { return .seconds(max(0, seconds)) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(secondsFromGMT: 0)
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return .seconds(max(0, Int(date.timeIntervalSince(now).rounded(.up))))
    }

    /// The URL without credentials or query, for logs.
    static func display(_ url: String) -> String {
        guard var components = URLComponents(string: url) else { return "?" }
        components.user = nil
        components.password = nil
        components.query = nil
        return components.string ?? "?"
    }
}
