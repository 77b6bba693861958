import AsyncHTTPClient
import CallEvents
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// Delivers one CRM endpoint's events from the journal: signed Standard Webhooks POSTs, retried on
/// the schedule until a 2xx, each success committed to the journal.
///
/// Events of one call go in order: one task delivers a call's pending events one after another and
/// stops at the first failure, whose retry holds the call's later events back. Different calls go
/// concurrently, up to the endpoint's `concurrency` calls. One endpoint's failures, slowness or poisoned events
/// never hold another endpoint back: each has its own deliverer.
public final class WebhookDeliverer: EventSink {
    public let endpoint: RelayConfiguration.WebhookEndpoint
    /// The endpoint's name in the journal.
    public let key: String
    private let tenant: String
    private let route: DeliveryRoute
    private let journal: any DeliveryQueue
    private let http: HTTPClient
    private let signer: WebhookSigner
    private let logger: Logger
    private let concurrency: Int
    private let wakeup = Wakeup()
    private let state: NIOLockedValueBox<State>

    struct State {
        /// The endpoint's policy: down, paused or stopped, and what each answer leads to.
        var endpoint: EndpointStateMachine
        /// Calls being delivered.
        var inFlight: Set<String> = []
        /// A retry may be scheduled for later: worth asking the journal when. True at start (a
        /// journal from before a restart) and after each failure; false once the journal says none.
        var retriesScheduled = true
        /// Failures so far, so that a "none" read before a failure is recorded does not hide it.
        var failures = 0
        /// The journal's newest event when the deliverer started: later events all pass through
        /// `write(_:)`, so for those the deliverer knows without a read whether a call has more.
        var startedAfter: Int64?
        /// The newest event handed to `write(_:)` per call, for calls with events not yet delivered.
        var newestWritten: [String: Int64] = [:]

        // Delivery from memory: a committed event whose call has nothing pending in the journal is
        // started from the commit itself, without reading the journal or waking the loop.

        /// Set once `run()` knows which calls the journal holds pending deliveries of.
        var fromMemoryReady = false
        /// Off for good after `blocked` or `newestWritten` outgrew their limit: every event then goes
        /// through the journal, as it did before delivery from memory.
        var fromMemoryOff = false
        /// Calls that may have a delivery pending in the journal that memory does not know of: pending
        /// at start, failed, refused while paused or busy. Their events go through the journal, in
        /// order, until a chain from the journal leaves nothing pending.
        var blocked: Set<String> = []
        /// Deliveries from memory for the loop to start; their calls are already in `inFlight`.
        var toStart: [PendingDelivery] = []
        /// Per call being delivered from memory: the events committed since its chain started.
        var fresh: [String: [PendingDelivery]] = [:]
        /// Calls handed over while every place was taken, waiting in memory for one, in the order
        /// they came, each with its events in order. A journal read skips them as it skips calls in
        /// flight; while the endpoint is held they go back to the journal (``spillQueue()``).
        var queued: [String: [PendingDelivery]] = [:]
        var queueOrder = CircularBuffer<String>()
        /// The bodies' bytes waiting in `queued`, at most ``WebhookDeliverer/queueLimit``.
        var queuedBytes = 0
        /// Something only the journal can tell is waiting: an event not delivered from memory, a call
        /// from the journal that ended, a failure.
        var needsRead = true
        /// Calls released while the loop read due deliveries and started them: such a read may still
        /// show a delivery that the released chain made, which must not be started again.
        var releasedDuringRead: Set<String>?
        /// The newest event a journal read handed out. An event is readable there from its sync on,
        /// a moment before its commit hands it to `write(_:)`; one the journal already gave out is the
        /// journal's to deliver, or a chain from the journal could post it and memory post it again.
        var seenInJournal: Int64 = 0

        init(endpoint: EndpointStateMachine) {
            self.endpoint = endpoint
        }

        /// Disabled (410), or paused by a 429/502/503/504: nothing new is tried.
        var isHeld: Bool { endpoint.isHeld(at: .now) }

        /// Takes `delivery` from memory when its call has nothing pending in the journal: appended to
        /// the chain delivering the call, or started. False when it must go through the journal.
        mutating func takeFromMemory(_ delivery: PendingDelivery, concurrency: Int) -> Bool {
            let call = delivery.callKey
            if fromMemoryOff { return false }
            // Blocked, so that the call's later events follow it through the journal, in order.
            guard delivery.sequence > seenInJournal else {
                block(call)
                return false
            }
            guard fromMemoryReady, !endpoint.disabled, !blocked.contains(call) else {
                block(call)
                return false
            }
            if fresh[call] != nil {
                fresh[call]?.append(delivery)
                return true
            }
            guard !inFlight.contains(call), !isHeld else {
                block(call)
                return false
            }
            if inFlight.count < concurrency, queued[call] == nil {
                inFlight.insert(call)
                fresh[call] = []
                toStart.append(delivery)
                return true
            }
            // Every place is taken: wait in memory rather than in the journal, which would cost
            // reads to find it again. Past the limit the journal keeps it, and the call's later events.
            guard queuedBytes + delivery.json.utf8.count <= WebhookDeliverer.queueLimit else {
                block(call)
                return false
            }
            if queued[call] == nil { queueOrder.append(call) }
            queued[call, default: []].append(delivery)
            queuedBytes += delivery.json.utf8.count
            return true
        }

        /// Whether the call is being delivered or waits in memory for a place: a journal read must not
        /// start it.
        func isBusy(_ call: String) -> Bool { inFlight.contains(call) || queued[call] != nil }

        /// Calls a journal read must skip.
        var busyCalls: Set<String> { queued.isEmpty ? inFlight : inFlight.union(queued.keys) }

        /// Gives free places to the calls waiting in memory, oldest first, for the loop to start;
        /// while the endpoint is held, hands them back to the journal instead.
        mutating func startQueued(concurrency: Int) {
            if isHeld {
                spillQueue()
                return
            }
            while inFlight.count < concurrency, !queueOrder.isEmpty {
                let call = queueOrder.removeFirst()
                guard var deliveries = queued.removeValue(forKey: call), !deliveries.isEmpty else { continue }
                for delivery in deliveries { queuedBytes -= delivery.json.utf8.count }
                let first = deliveries.removeFirst()
                inFlight.insert(call)
                fresh[call] = deliveries
                toStart.append(first)
            }
        }

        /// The waiting calls go back to the journal, where their events are pending: blocked, so
        /// that their later events follow them there in order.
        mutating func spillQueue() {
            guard !queueOrder.isEmpty else { return }
            let calls = queueOrder
            queued = [:]
            queueOrder.removeAll()
            queuedBytes = 0
            for call in calls { block(call) }
            needsRead = true
        }

        mutating func block(_ call: String) {
            guard !fromMemoryOff else { return }
            blocked.insert(call)
            if blocked.count > WebhookDeliverer.trackedCallsLimit { stopUsingMemory() }
        }

        /// Every event goes through the journal from now on; the record of blocked calls is dropped.
        mutating func stopUsingMemory() {
            fromMemoryOff = true
            blocked = []
        }

        /// The call's next event committed since its chain from memory started.
        mutating func nextFresh(_ call: String) -> PendingDelivery? {
            guard fresh[call]?.isEmpty == false else { return nil }
            return fresh[call]?.removeFirst()
        }

        /// A call's chain is over: the call is free for the loop (and for memory, unless blocked), and
        /// its place goes to the oldest call waiting in memory.
        mutating func release(_ call: String, concurrency: Int) {
            inFlight.remove(call)
            fresh[call] = nil
            releasedDuringRead?.insert(call)
            startQueued(concurrency: concurrency)
        }
    }

    /// At most this many bytes of event bodies wait in memory for a place, per endpoint: enough to
    /// keep every place busy at full speed, and memory stays bounded when the endpoint is slow.
    static let queueLimit = 1 << 20

    /// A chain from the journal reads its call's next deliveries this many at a time.
    static let readAhead = 16

    /// At most this many calls are tracked in `newestWritten`.
    static let trackedCallsLimit = 10_000

    /// Calls tracked in `newestWritten`, for tests.
    var trackedCalls: Int { state.withLockedValue { $0.newestWritten.count } }

    private enum Outcome {
        /// Recorded without waiting for the write: the ticket says when it is on record.
        case delivered(DeliveredMarkTicket)
        case failed
        /// Shutting down: not an attempt.
        case abandoned
    }

    public init(
        tenant: String, endpoint: RelayConfiguration.WebhookEndpoint, journal: any DeliveryQueue, http: HTTPClient,
        logger: Logger,
        probeInterval: Duration = .seconds(30)
    ) throws {
        self.endpoint = endpoint
        self.state = NIOLockedValueBox(
            State(
                endpoint: EndpointStateMachine(
                    schedule: endpoint.schedule, probeInterval: probeInterval, timeout: endpoint.timeout)))
        let route = DeliveryRoute(tenant: tenant, url: endpoint.url, types: endpoint.types)
        self.tenant = tenant
        self.route = route
        self.key = route.endpoint
        self.journal = journal
        self.http = http
        self.signer = try WebhookSigner(secrets: endpoint.secrets)
        var logger = logger
        logger[metadataKey: "tenant"] = "\(tenant)"
        logger[metadataKey: "endpoint"] = "\(EndpointStateMachine.display(endpoint.url))"
        self.logger = logger
        self.concurrency = max(1, endpoint.concurrency)
    }

    /// New events were committed: if any is for this endpoint, look for work at once instead of at
    /// the next poll (with many tenants, a commit wakes only the endpoints it concerns).
    public func write(_ entries: [JournalEntry]) {
        let mine = entries.filter { $0.event.data.tenant == tenant && route.wants($0.event) }
        guard !mine.isEmpty else { return }
        let now = Date()
        let concurrency = self.concurrency
        state.withLockedValue { state in
            for entry in mine {
                let delivery = PendingDelivery(
                    sequence: entry.sequence, callKey: entry.event.data.callId, attempts: 0, json: entry.json,
                    eventId: entry.event.id, nextAt: now)
                if state.takeFromMemory(delivery, concurrency: concurrency) { continue }
                state.needsRead = true
                state.newestWritten[delivery.callKey] = max(state.newestWritten[delivery.callKey] ?? 0, entry.sequence)
            }
            // Calls whose events are not delivered for a long time (an endpoint down or disabled,
            // dead letters) would pile up here. Forgetting is safe: events up to this point are then
            // treated like those from before the start, with a read. (Unblocking a call relies on
            // this record, so delivery from memory stops too.)
            if state.newestWritten.count > Self.trackedCallsLimit, let newest = mine.map(\.sequence).max() {
                state.newestWritten.removeAll()
                state.startedAfter = max(state.startedAfter ?? 0, newest)
                state.stopUsingMemory()
            }
        }
        wakeup.signal()
    }

    /// Whether the call may have an event after `sequence` waiting. No, without a read, when both were
    /// committed since the start and none newer came through `write(_:)`. A "no" that misses an event
    /// committed but not yet handed over costs nothing: the call is released and the loop, woken by
    /// that hand-over, starts it.
    private func mayHaveMore(call: String, after sequence: Int64) -> Bool {
        state.withLockedValue { state in
            let newest = state.newestWritten[call]
            if let newest, newest <= sequence { state.newestWritten[call] = nil }
            guard let startedAfter = state.startedAfter, sequence > startedAfter else { return true }
            return (newest ?? 0) > sequence
        }
    }

    /// Delivers until cancelled (on shutdown an attempt in flight is abandoned; it is sent again under
    /// the same `webhook-id` after the restart).
    public func run() async {
        do {
            let newest = try await journal.newestSequence()
            // Over the limit, the journal's pending calls are not all known: memory stays out of it.
            let pending = try await journal.pendingCalls(endpoint: key, limit: Self.trackedCallsLimit + 1)
            // Down when the relay stopped (a crash or a deploy during a CRM outage): its waiting rows
            // are waiting on an outage, probed from now on and all due at the first success, as if
            // the outage had been seen in this run.
            if let failure = try await journal.lastFailure(endpoint: key),
                state.withLockedValue({ $0.endpoint.wasDown(lastFailure: failure, now: .now) })
            {
                logger.notice(
                    "the endpoint was down when the relay stopped; its waiting deliveries go as soon as it answers",
                    metadata: ["error": "\(failure)"])
            }
            state.withLockedValue { state in
                state.startedAfter = max(state.startedAfter ?? 0, newest)
                if pending.count > Self.trackedCallsLimit {
                    state.stopUsingMemory()
                } else {
                    for call in pending { state.block(call) }
                }
                state.fromMemoryReady = true
            }
        } catch {
            if Task.isCancelled { return }
            logger.error("cannot read the deliveries from the journal", metadata: ["error": "\(error)"])
            state.withLockedValue { $0.stopUsingMemory() }
        }
        // When the journal must be read again even without a signal: the poll, the next retry, a probe.
        var readAt = ContinuousClock.now
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                let (busy, pausedUntil, disabled, fromMemory, needsRead) = state.withLockedValue { state in
                    defer { state.toStart = [] }
                    return (state.inFlight, state.endpoint.pausedUntil, state.endpoint.disabled, state.toStart, state.needsRead)
                }
                for delivery in fromMemory {
                    group.addTask {
                        await self.deliverFromMemory(delivery)
                        self.wakeup.signal()
                    }
                }
                // Commits and finished calls wake the loop; the poll is for `callrelay deliveries retry`,
                // which changes the journal from another process.
                var wait = Duration.seconds(5)
                if disabled {
                    // Stopped by a 410 until the next start; it keeps running (idle) so that the daemon,
                    // which stops when any of its services ends, goes on for every other endpoint.
                    wait = .seconds(3600)
                } else if let pausedUntil, pausedUntil > .now {
                    wait = ContinuousClock.now.duration(to: pausedUntil) + .milliseconds(1)
                } else if busy.count < concurrency, !needsRead, readAt > .now {
                    // Only events delivered from memory came: nothing for the journal to tell.
                    wait = ContinuousClock.now.duration(to: readAt)
                } else if busy.count < concurrency {
                    do {
                        // Events handed over from now on set it again.
                        state.withLockedValue {
                            $0.needsRead = false
                            $0.releasedDuringRead = []
                        }
                        defer { state.withLockedValue { $0.releasedDuringRead = nil } }
                        // Calls waiting in memory are skipped like those in flight (read here: a wait
                        // in memory implies every place was taken, so this is rarely more than `busy`).
                        let busyCalls = state.withLockedValue(\.busyCalls).union(busy)
                        let due = try await journal.dueDeliveries(
                            endpoint: key, limit: concurrency - busy.count, busyCalls: busyCalls)
                        for delivery in due { start(delivery, probe: false, in: &group) }
                        // A full batch: more may be due. Otherwise everything due now has started.
                        if due.count == concurrency - busy.count {
                            state.withLockedValue { $0.needsRead = true }
                            continue
                        }
                        // Each commit wakes the loop; in a steady flow without failures this read
                        // would be one of three per wake for nothing.
                        let (retriesScheduled, failures) = state.withLockedValue { ($0.retriesScheduled, $0.failures) }
                        if retriesScheduled {
                            if let next = try await journal.nextDue(endpoint: key) {
                                wait = min(wait, Self.until(next))
                            } else {
                                state.withLockedValue { if $0.failures == failures { $0.retriesScheduled = false } }
                            }
                        }
                        if busy.isEmpty, let probeAt = state.withLockedValue({ $0.endpoint.nextProbe }) {
                            if probeAt <= .now {
                                if let oldest = try await journal.dueDeliveries(
                                    endpoint: key, now: .distantFuture, limit: 1, busyCalls: []
                                ).first {
                                    start(oldest, probe: true, in: &group)
                                    state.withLockedValue { $0.needsRead = true }
                                    continue
                                }
                            } else {
                                wait = min(wait, ContinuousClock.now.duration(to: probeAt))
                            }
                        }
                        readAt = .now + wait
                    } catch {
                        // On shutdown the read is cancelled: nothing to report.
                        if Task.isCancelled { break }
                        state.withLockedValue { $0.needsRead = true }
                        logger.error("cannot read the deliveries from the journal", metadata: ["error": "\(error)"])
                    }
                }
                await wakeup.wait(timeout: wait)
            }
        }
    }

    /// Starts delivering a call from the journal at `delivery`, unless the call is in flight or its
    /// chain ended while the journal was read (the read may predate that chain's deliveries).
    private func start(_ delivery: PendingDelivery, probe: Bool, in group: inout DiscardingTaskGroup) {
        let started = state.withLockedValue { state in
            state.seenInJournal = max(state.seenInJournal, delivery.sequence)
            if state.isBusy(delivery.callKey) || state.releasedDuringRead?.contains(delivery.callKey) == true {
                state.needsRead = true
                return false
            }
            state.inFlight.insert(delivery.callKey)
            return true
        }
        guard started else { return }
        group.addTask {
            await self.deliverCall(from: delivery, probe: probe)
            self.wakeup.signal()
        }
    }

    /// Delivers `first` and then the call's later pending events from the journal, back to back,
    /// until one fails, the endpoint is paused or there are no more; then releases the call.
    ///
    /// - Parameter probe: `first` is tried ahead of its schedule because the endpoint is down; if it
    ///   fails, its attempts and its next retry stay as they were.
    private func deliverCall(from first: PendingDelivery, probe: Bool) async {
        let call = first.callKey
        var delivery = first
        var probe = probe
        var recorded: DeliveredMarkTicket?
        // Whether the chain ended with nothing of the call left pending as far as it read.
        var drained = false
        // The call's next deliveries, read a batch at a time: a backlog costs a read per batch.
        var ahead: [PendingDelivery] = []
        while case .delivered(let ticket) = await attempt(delivery, probe: probe) {
            recorded = ticket
            if Task.isCancelled { break }
            probe = false
            if state.withLockedValue(\.isHeld) { break }
            if !ahead.isEmpty {
                delivery = ahead.removeFirst()
                continue
            }
            // In a steady flow a call's events come seconds apart: most chains end here, unread.
            guard mayHaveMore(call: call, after: delivery.sequence) else {
                drained = true
                break
            }
            do {
                ahead = try await journal.nextDeliveries(
                    endpoint: key, callKey: call, after: delivery.sequence, now: Date(), limit: Self.readAhead)
                guard let last = ahead.last else {
                    drained = true
                    break
                }
                state.withLockedValue { $0.seenInJournal = max($0.seenInJournal, last.sequence) }
                delivery = ahead.removeFirst()
            } catch {
                if !Task.isCancelled {
                    logger.error("cannot read the deliveries from the journal", metadata: ["error": "\(error)"])
                }
                break
            }
        }
        // Successes are recorded without waiting, so that the call's next event need not wait for the
        // write. Before the call is released they must be on record: the next search would otherwise
        // find a delivered event still pending and post it again. (A write that fails is logged where
        // it was recorded; the event then goes again under the same id.)
        if let recorded { await journal.waitUntilRecorded(recorded) }
        // A blocked call whose chain left nothing pending goes back to memory: checked against the
        // journal (a retry scheduled for later is not "due", so the chain's own reads cannot tell).
        let lastDelivered = delivery.sequence
        var unblock = false
        if drained, !Task.isCancelled, state.withLockedValue({ $0.blocked.contains(call) }) {
            unblock = (try? await journal.hasPending(endpoint: key, callKey: call)) == false
        }
        state.withLockedValue { state in
            // An event handed over since the chain's last look is pending and not the chain's.
            if unblock, (state.newestWritten[call] ?? 0) <= lastDelivered, !state.fromMemoryOff {
                state.blocked.remove(call)
            }
            state.release(call, concurrency: concurrency)
            state.needsRead = true
        }
    }

    /// Delivers `first`, handed over by a commit, and then the call's events committed since, from
    /// memory, back to back; then releases the call. Anything that stops the chain early leaves the
    /// rest pending in the journal and the call blocked, so its events keep their order.
    private func deliverFromMemory(_ first: PendingDelivery) async {
        let call = first.callKey
        var delivery = first
        var recorded: DeliveredMarkTicket?
        while true {
            guard case .delivered(let ticket) = await attempt(delivery, probe: false) else { break }
            recorded = ticket
            if Task.isCancelled { break }
            if state.withLockedValue(\.isHeld) { break }
            if let next = state.withLockedValue({ $0.nextFresh(call) }) {
                delivery = next
                continue
            }
            // As in `deliverCall`: on record before the call is released.
            await journal.waitUntilRecorded(ticket)
            recorded = nil
            let next = state.withLockedValue { state -> PendingDelivery? in
                if let next = state.nextFresh(call) { return next }
                // A blocked call has an event in the journal that a read made while the chain ran
                // skipped; the next read must look again.
                if state.blocked.contains(call) || state.fromMemoryOff { state.needsRead = true }
                state.release(call, concurrency: concurrency)
                return nil
            }
            guard let next else { return }
            delivery = next
        }
        if let recorded { await journal.waitUntilRecorded(recorded) }
        state.withLockedValue { state in
            state.block(call)
            state.release(call, concurrency: concurrency)
            state.needsRead = true
        }
    }

    /// One POST of `delivery`; its answer goes to the endpoint's policy, whose action is carried out
    /// here. A failure is recorded before this returns.
    private func attempt(_ delivery: PendingDelivery, probe: Bool) async -> Outcome {
        var request = HTTPClientRequest(url: endpoint.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "callrelay")
        for header in endpoint.headers { request.headers.add(name: header.name, value: header.value) }
        for header in signer.headers(id: delivery.eventId, timestamp: Date(), body: delivery.json) {
            request.headers.add(name: header.name, value: header.value)
        }
        request.body = .bytes(ByteBuffer(string: delivery.json))
        let answer: EndpointStateMachine.Answer
        do {
            let response = try await http.execute(request, timeout: .seconds(endpoint.timeout.components.seconds))
            _ = try? await response.body.collect(upTo: 64 * 1024)
            answer = .response(
                status: Int(response.status.code), reason: response.status.reasonPhrase,
                retryAfter: response.headers.first(name: "Retry-After"), location: response.headers.first(name: "Location"))
        } catch let error as HTTPClientError where error == .deadlineExceeded {
            answer = .timeout
        } catch {
            // Shutting down: the attempt is abandoned, not failed; it is made again after the restart.
            if Task.isCancelled { return .abandoned }
            answer = .transportError("\(error)")
        }
        let attempt = EndpointStateMachine.Attempt(
            previousAttempts: delivery.attempts, probe: probe, scheduledAt: delivery.nextAt)
        let action = state.withLockedValue { state in
            var random = SystemRandomNumberGenerator()
            return state.endpoint.receive(answer, for: attempt, now: .now, wallClock: Date(), random: &random)
        }
        switch action {
        case .delivered(let attempts, let recovery):
            let logger = self.logger
            let ticket = journal.recordDelivered(endpoint: key, sequence: delivery.sequence, attempts: attempts) { error in
                logger.error("delivered, but cannot record it; it will be sent again", metadata: ["error": "\(error)"])
            }
            if let recovery { await recovered(recovery) }
            return .delivered(ticket)
        case .failed(let failure):
            if let recovery = failure.recovery { await recovered(recovery) }
            logger.log(
                level: failure.level, "\(failure.message)",
                metadata: ["id": "\(delivery.eventId)", "attempts": "\(failure.attempts)", "error": "\(failure.error)"])
            do {
                try await journal.markFailed(
                    endpoint: key, sequence: delivery.sequence, attempts: failure.attempts, error: failure.error,
                    retryAt: failure.retryAt)
            } catch {
                logger.error("cannot record a failed delivery", metadata: ["error": "\(error)"])
            }
            failureRecorded()
            return .failed
        }
    }

    /// A failure is on record, with its retry: the loop asks the journal when the next one is due. (A
    /// "none" it read before this point is stale, which `failures` tells it.)
    private func failureRecorded() {
        state.withLockedValue {
            $0.retriesScheduled = true
            $0.failures += 1
        }
    }

    /// The endpoint answered after an outage: what waits for a retry goes now.
    private func recovered(_ recovery: EndpointStateMachine.Recovery) async {
        do {
            let moved = try await journal.expediteRetries(endpoint: key)
            logger.log(
                level: EndpointStateMachine.recoveryLevel(down: recovery.down, movedRetries: moved),
                "the endpoint answers again; its waiting retries go now",
                metadata: ["down": "\(recovery.down)", "retries": "\(moved)"])
        } catch {
            logger.error("cannot move the waiting retries up", metadata: ["error": "\(error)"])
        }
    }

    /// From now until just after `date`, at least a millisecond.
    static func until(_ date: Date) -> Duration {
        .milliseconds(max(1, Int(date.timeIntervalSinceNow * 1000) + 1))
    }
}
