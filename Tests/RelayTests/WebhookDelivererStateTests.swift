import Foundation
import Testing

@testable import Relay

/// The rules that let a committed event be delivered from memory, skipping the journal, without ever
/// overtaking an earlier event of its call that waits in the journal.
@Suite("Webhook delivery from memory")
struct WebhookDelivererStateTests {
    func delivery(_ call: String, _ sequence: Int64, json: String = "{}") -> PendingDelivery {
        PendingDelivery(sequence: sequence, callKey: call, attempts: 0, json: json, eventId: "evt_\(sequence)", nextAt: Date())
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
        state.release("a", concurrency: 4)
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

    @Test("a call refused once (busy, paused, or past the memory queue) stays with the journal, so it keeps its order")
    func refusals() {
        var state = ready()
        state.inFlight = ["busy"]
        #expect(!take(&state, delivery("busy", 1), concurrency: 4), "delivered from the journal right now")
        let big = String(repeating: "x", count: WebhookDeliverer.queueLimit)
        #expect(take(&state, delivery("x", 2), concurrency: 2))
        #expect(
            !take(&state, delivery("full", 3, json: big + "x"), concurrency: 2), "over the concurrency limit, too big to wait")
        state.release("busy", concurrency: 2)
        state.release("x", concurrency: 2)
        #expect(!take(&state, delivery("busy", 4), concurrency: 4), "event 1 may still be pending")
        #expect(!take(&state, delivery("full", 5), concurrency: 4), "event 3 is pending")
        state.endpoint.pausedUntil = .now + .seconds(60)
        #expect(!take(&state, delivery("paused", 6), concurrency: 4))
        #expect(state.blocked == ["busy", "full", "paused"])
    }

    @Test("with every place taken, new calls wait in memory in order and take the places as chains end")
    func queue() {
        var state = ready()
        #expect(take(&state, delivery("a", 1), concurrency: 2))
        #expect(take(&state, delivery("b", 2), concurrency: 2))
        #expect(take(&state, delivery("c", 3), concurrency: 2), "waits in memory, not in the journal")
        #expect(take(&state, delivery("d", 4), concurrency: 2))
        #expect(take(&state, delivery("c", 5), concurrency: 2), "joins its call in the queue")
        #expect(state.toStart.map(\.sequence) == [1, 2])
        #expect(state.blocked.isEmpty)
        #expect(state.busyCalls == ["a", "b", "c", "d"], "a journal read skips the waiting calls")
        state.toStart = []
        state.release("a", concurrency: 2)
        #expect(state.toStart.map(\.sequence) == [3], "the oldest waiting call takes the place")
        #expect(state.inFlight == ["b", "c"])
        #expect(next(&state, "c") == 5)
        #expect(next(&state, "c") == nil)
        #expect(take(&state, delivery("c", 6), concurrency: 2), "joins the running chain")
        #expect(next(&state, "c") == 6)
        state.release("b", concurrency: 2)
        #expect(state.toStart.map(\.sequence) == [3, 4])
        #expect(state.queued.isEmpty && state.queuedBytes == 0)
    }

    @Test("a journal read that finds a call waiting in memory leaves it to memory")
    func queuedNotStartedFromJournal() {
        var state = ready()
        #expect(take(&state, delivery("a", 1), concurrency: 1))
        #expect(take(&state, delivery("b", 2), concurrency: 1))
        #expect(state.isBusy("b"))
        #expect(!state.isBusy("c"))
    }

    @Test("when the endpoint is held, the waiting calls go back to the journal, blocked, so nothing is tried early")
    func queueSpilledWhenHeld() {
        var state = ready()
        #expect(take(&state, delivery("a", 1), concurrency: 1))
        #expect(take(&state, delivery("b", 2), concurrency: 1))
        #expect(take(&state, delivery("b", 3), concurrency: 1))
        state.endpoint.pausedUntil = .now + .seconds(60)
        state.needsRead = false
        state.toStart = []
        state.release("a", concurrency: 1)
        #expect(state.toStart.isEmpty)
        #expect(state.queued.isEmpty && state.queuedBytes == 0)
        #expect(state.blocked == ["b"], "its events are pending in the journal, where they keep their order")
        #expect(state.needsRead)
        state.endpoint.pausedUntil = nil
        #expect(!take(&state, delivery("b", 4), concurrency: 1))
    }

    @Test("the bodies waiting in memory are bounded; past the bound a call stays with the journal")
    func queueBounded() {
        var state = ready()
        let half = String(repeating: "x", count: WebhookDeliverer.queueLimit / 2)
        #expect(take(&state, delivery("a", 1), concurrency: 1))
        #expect(take(&state, delivery("b", 2, json: half), concurrency: 1))
        #expect(take(&state, delivery("c", 3, json: half), concurrency: 1))
        #expect(!take(&state, delivery("d", 4), concurrency: 1))
        #expect(!take(&state, delivery("c", 5), concurrency: 1), "after the queue, so after its earlier event")
        #expect(state.blocked == ["c", "d"])
        state.release("a", concurrency: 1)
        #expect(state.toStart.last?.sequence == 2)
        #expect(take(&state, delivery("e", 6), concurrency: 1), "room again")
    }

    @Test("a release during the loop's read is remembered, so the read's stale rows do not start the call again")
    func releasedDuringRead() {
        var state = ready()
        state.releasedDuringRead = []
        #expect(take(&state, delivery("a", 1), concurrency: 4))
        state.release("a", concurrency: 4)
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
