import Foundation
import Logging
import Testing

@testable import Relay

@Suite("A CRM endpoint's delivery policy")
struct EndpointStateMachineTests {
    let now = ContinuousClock.now
    let wall = Date(timeIntervalSince1970: 1_800_000_000)

    /// The default schedule without jitter, so that every wait is exact.
    func machine() -> EndpointStateMachine {
        var schedule = RetrySchedule()
        schedule.jitter = 0
        return EndpointStateMachine(schedule: schedule, probeInterval: .seconds(30), timeout: .seconds(15))
    }

    func receive(
        _ machine: inout EndpointStateMachine, _ answer: EndpointStateMachine.Answer, previousAttempts: Int = 0,
        probe: Bool = false, after: Duration = .zero
    ) -> EndpointStateMachine.Action {
        var random = SystemRandomNumberGenerator()
        return machine.receive(
            answer, for: .init(previousAttempts: previousAttempts, probe: probe, scheduledAt: wall), now: now + after,
            wallClock: wall.addingTimeInterval(after.seconds), random: &random)
    }

    func failure(_ action: EndpointStateMachine.Action) -> EndpointStateMachine.Failure? {
        if case .failed(let failure) = action { return failure }
        return nil
    }

    @Test("a 2xx is delivered with its attempt counted")
    func delivered() {
        var endpoint = machine()
        #expect(
            receive(&endpoint, .response(status: 204, reason: "No Content"), previousAttempts: 2)
                == .delivered(attempts: 3, recovery: nil))
        #expect(!endpoint.isHeld(at: now))
        #expect(endpoint.nextProbe == nil)
    }

    @Test("a 503 with Retry-After pauses the endpoint as long as it asks and marks it down; the next answer ends the outage")
    func outageWithRetryAfter() throws {
        var endpoint = machine()
        let failed = try #require(
            failure(receive(&endpoint, .response(status: 503, reason: "Service Unavailable", retryAfter: "120"))))
        #expect(failed.error == "HTTP 503 Service Unavailable")
        #expect(failed.attempts == 1)
        #expect(failed.retryAt == wall.addingTimeInterval(120), "the schedule's 'at once' lengthened to the Retry-After")
        #expect(failed.level == .info)
        #expect(endpoint.isHeld(at: now + .seconds(119)))
        #expect(!endpoint.isHeld(at: now + .seconds(121)))
        #expect(endpoint.nextProbe == now + .seconds(30))
        let back = receive(&endpoint, .response(status: 200, reason: "OK"), after: .seconds(45))
        #expect(back == .delivered(attempts: 1, recovery: .init(down: .seconds(45))))
        #expect(endpoint.nextProbe == nil)
    }

    @Test("a 429 or 502 without Retry-After pauses the endpoint no longer than a probe's interval, whatever the event's schedule")
    func pauseWithoutRetryAfter() throws {
        for status in [429, 502, 504] {
            var endpoint = machine()
            let failed = try #require(failure(receive(&endpoint, .response(status: status, reason: "x"), previousAttempts: 2)))
            #expect(failed.retryAt == wall.addingTimeInterval(300), "the third attempt waits 5 minutes")
            #expect(endpoint.pausedUntil == now + .seconds(30))
        }
    }

    @Test("a 500, a timeout or no connection marks the endpoint down without pausing it")
    func downWithoutPause() throws {
        for answer: EndpointStateMachine.Answer in [
            .response(status: 500, reason: "Internal Server Error"), .timeout, .transportError("connection refused"),
        ] {
            var endpoint = machine()
            let failed = try #require(failure(receive(&endpoint, answer, previousAttempts: 1)))
            #expect(failed.retryAt == wall.addingTimeInterval(5))
            #expect(endpoint.pausedUntil == nil)
            #expect(endpoint.nextProbe == now + .seconds(30), "\(answer)")
        }
        var endpoint = machine()
        let timeout = receive(&endpoint, .timeout)
        #expect(failure(timeout)?.error == "no answer within 15.0 seconds")
    }

    @Test("a 4xx refuses the event, not the endpoint: it follows its schedule, and an endpoint that was down is back")
    func refusal() throws {
        var endpoint = machine()
        _ = receive(&endpoint, .response(status: 503, reason: "Service Unavailable"))
        let failed = try #require(
            failure(receive(&endpoint, .response(status: 400, reason: "Bad Request"), previousAttempts: 3, after: .seconds(10))))
        #expect(failed.retryAt == wall.addingTimeInterval(10 + 1800))
        #expect(failed.recovery == .init(down: .seconds(10)))
        #expect(endpoint.nextProbe == nil)
    }

    @Test("410 stops the endpoint until the next start")
    func gone() throws {
        var endpoint = machine()
        let failed = try #require(failure(receive(&endpoint, .response(status: 410, reason: "Gone"))))
        #expect(failed.error == "410 Gone: endpoint disabled")
        #expect(failed.level == .error)
        #expect(endpoint.isHeld(at: now + .seconds(86_400)))
        #expect(!EndpointStateMachine.isOutage(failed.error), "read back at the next start, a 410 is no outage")
    }

    @Test("a probe that fails leaves the delivery's attempts and schedule as they were")
    func failedProbe() throws {
        var endpoint = machine()
        let failed = try #require(
            failure(receive(&endpoint, .transportError("connection refused"), previousAttempts: 4, probe: true)))
        #expect(failed.attempts == 4)
        #expect(failed.retryAt == wall)
        #expect(failed.message == "the endpoint is still down")
    }

    @Test("when the schedule runs out (the ninth failure by default) the delivery is a dead letter, logged as a warning")
    func deadLetter() throws {
        var endpoint = machine()
        let failed = try #require(
            failure(receive(&endpoint, .response(status: 500, reason: "Internal Server Error"), previousAttempts: 8)))
        #expect(failed.attempts == 9)
        #expect(failed.retryAt == nil)
        #expect(failed.level == .warning)
        #expect(failed.message.contains("dead letter"))
    }

    @Test("a redirect is a failure naming where it pointed, without credentials or query")
    func redirect() throws {
        var endpoint = machine()
        let failed = try #require(
            failure(
                receive(
                    &endpoint,
                    .response(status: 301, reason: "Moved Permanently", location: "https://user:pw@crm.example.com/new?token=x")))
        )
        #expect(failed.error == "HTTP 301 Moved Permanently, redirect to https://crm.example.com/new not followed")
        #expect(endpoint.nextProbe == nil, "it answered: the endpoint is up")
    }

    @Test("Retry-After as an HTTP date; nonsense is no Retry-After")
    func retryAfterForms() {
        let date = Date(timeIntervalSince1970: 1_800_000_000)  // Fri, 15 Jan 2027 08:00:00 GMT
        #expect(EndpointStateMachine.retryAfter("Fri, 15 Jan 2027 08:00:30 GMT", now: date) == .seconds(30))
        #expect(EndpointStateMachine.retryAfter("Fri, 15 Jan 2027 07:00:00 GMT", now: date) == .seconds(0))
        #expect(EndpointStateMachine.retryAfter("soon", now: date) == nil)
        #expect(EndpointStateMachine.retryAfter(" 7 ", now: date) == .seconds(7))
        #expect(EndpointStateMachine.retryAfter("-3", now: date) == .seconds(0))
    }

    @Test("an endpoint whose last failure before the start was an outage is probed at once")
    func downAtStart() {
        var endpoint = machine()
        let refusal = endpoint.wasDown(lastFailure: "HTTP 400 Bad Request", now: now)
        #expect(!refusal)
        #expect(endpoint.nextProbe == nil)
        let outage = endpoint.wasDown(lastFailure: "HTTP 503 Service Unavailable", now: now)
        #expect(outage)
        #expect(endpoint.nextProbe == now)
        #expect(
            receive(&endpoint, .response(status: 200, reason: "OK"), after: .seconds(2))
                == .delivered(attempts: 1, recovery: .init(down: .seconds(2))))
    }
}
