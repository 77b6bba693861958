import Foundation
import Testing

@testable import Relay

/// The rules that let a committed event be delivered from memory, skipping the journal, without ever
/// overtaking an earlier event of its call that waits in the journal.
@Suite("Webhook delivery from memory")
struct WebhookDelivererStateTests {
    func delivery(_ call: String, _ sequence: Int64) -> PendingDelivery {
        PendingDelivery(sequence: sequence, callKey: call, attempts: 0, json: "{}", eventId: "evt_\(sequence)", nextAt: Date())
    }

    func take(_ state: inout WebhookDeliverer.State, _ delivery: PendingDelivery, concurrency: Int) -> Bool {
        state.takeFromMemory(delivery, concurrency: concurrency)
    }

    func next(_ state: inout WebhookDeliverer.State, _ call: String) -> Int64? {
        state.nextFresh(call)?.sequence
    }

    static func fresh() -> WebhookDeliverer.State {
        WebhookDeliverer.State(
            endpoint: EndpointStateMachine(schedule: RetrySchedule(), probeInterval: .seconds(30), timeout: .seconds(15)))
    }

    func ready() -> WebhookDeliverer.State {
        var state = Self.fresh()
        state.fromMemoryReady = true
        return state
    }

    @Test("a free call starts at once; its later events join its chain, in order, instead of starting another")
    func chain() {
        var state = ready()
        #expect(take(&state, delivery("a", 1), concurrency: 4))
        #expect(take(&state, delivery("a", 2), concurrency: 4))
        #expect(take(&state, delivery("a", 3), concurrency: 4))
        #expect(state.toStart.map(\.sequence) == [1])
        #expect(state.inFlight == ["a"])
        #expect(next(&state, "a") == 2)
        #expect(next(&state, "a") == 3)
        #expect(next(&state, "a") == nil)
        state.release("a")
        #expect(take(&state, delivery("a", 4), concurrency: 4), "a released call starts again from memory")
    }

    @Test("an event a journal read already handed out (synced, not yet handed over) is never taken from memory too")
    func seenInJournal() {
        var state = ready()
        // A read started the call's first event, its chain delivered it and ended; then its commit
        // hands the same event over.
        state.seenInJournal = 5
        #expect(!take(&state, delivery("a", 5), concurrency: 4))
        #expect(state.toStart.isEmpty)
        #expect(!take(&state, delivery("a", 6), concurrency: 4), "the call's later events follow it through the journal")
        #expect(take(&state, delivery("b", 7), concurrency: 4), "newer events of other calls still go from memory")
    }

    @Test("before the journal's pending calls are known, every event goes through the journal and blocks its call")
    func notReady() {
        var state = Self.fresh()
        #expect(!take(&state, delivery("a", 1), concurrency: 4))
        state.fromMemoryReady = true
        #expect(!take(&state, delivery("a", 2), concurrency: 4), "its first event may still wait in the journal")
        #expect(take(&state, delivery("b", 3), concurrency: 4))
    }

    @Test("a call refused once (busy, paused, or at the concurrency limit) stays with the journal, so it keeps its order")
    func refusals() {
        var state = ready()
        state.inFlight = ["busy"]
        #expect(!take(&state, delivery("busy", 1), concurrency: 4), "delivered from the journal right now")
        #expect(take(&state, delivery("x", 2), concurrency: 2))
        #expect(!take(&state, delivery("full", 3), concurrency: 2), "over the concurrency limit")
        state.release("busy")
        state.release("x")
        #expect(!take(&state, delivery("busy", 4), concurrency: 4), "event 1 may still be pending")
        #expect(!take(&state, delivery("full", 5), concurrency: 4), "event 3 is pending")
        state.endpoint.pausedUntil = .now + .seconds(60)
        #expect(!take(&state, delivery("paused", 6), concurrency: 4))
        #expect(state.blocked == ["busy", "full", "paused"])
    }

    @Test("a release during the loop's read is remembered, so the read's stale rows do not start the call again")
    func releasedDuringRead() {
        var state = ready()
        state.releasedDuringRead = []
        #expect(take(&state, delivery("a", 1), concurrency: 4))
        state.release("a")
        #expect(state.releasedDuringRead == ["a"])
    }

    @Test("past the limit of blocked calls, memory steps aside for good instead of growing")
    func bounded() {
        var state = ready()
        for index in 0...WebhookDeliverer.trackedCallsLimit { state.block("call-\(index)") }
        #expect(state.fromMemoryOff)
        #expect(state.blocked.isEmpty)
        #expect(!take(&state, delivery("new", 1), concurrency: 4))
    }
}

@Suite("Outages read back from the journal")
struct OutageClassificationTests {
    @Test("no connection, no answer in time, 408, 429 and 5xx are an outage; a refusal, a redirect and 410 are not")
    func classification() {
        for failure in [
            "HTTP 503 Service Unavailable", "HTTP 500 Internal Server Error", "HTTP 408 Request Timeout",
            "HTTP 429 Too Many Requests", "no answer within 15 seconds", "connect(descriptor:addr:size:): Connection refused",
        ] {
            #expect(EndpointStateMachine.isOutage(failure), "\(failure)")
        }
        for failure in [
            "HTTP 400 Bad Request", "HTTP 401 Unauthorized", "HTTP 301 Moved Permanently, redirect to /x not followed",
            "410 Gone: endpoint disabled",
        ] {
            #expect(!EndpointStateMachine.isOutage(failure), "\(failure)")
        }
    }
}
