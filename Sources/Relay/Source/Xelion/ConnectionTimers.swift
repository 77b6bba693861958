import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import WebSocket
import Xelion

/// The timed chores of one connected tenant: the liveness check and the session renewal.
///
/// They run on event-loop timers, not in tasks of their own, because a task that sleeps for the life
/// of a connection keeps its object and its stack slabs (a few KiB each): at a thousand idle tenants
/// the liveness and renewal tasks were a fifth of the relay's memory. A chore that has to `await`
/// gets a short-lived task when its timer fires.
final class ConnectionTimers: Sendable {
    private struct State {
        var stopped = false
        /// Wall time, for the gap a drop records.
        var lastSignOfLife: Date
        /// The same moment on the monotonic clock, for the liveness deadline: a step of the wall
        /// clock must neither fail a live connection nor keep a dead one.
        var lastHeard = ContinuousClock.now
        var livenessTimedOut = false
        var liveness: RepeatedTask?
        var echoDeadline: Scheduled<Void>?
        var renewal: Scheduled<Void>?
        /// A renewal in flight, which must end before the source logs out.
        var renewing: Task<Void, Never>?
    }

    private let state: NIOLockedValueBox<State>
    private let socket: WebSocketConnection
    private let session: XelionSession
    private let livenessInterval: Duration
    private let livenessTimeout: Duration
    private let logger: Logger
    private let loop: any EventLoop

    init(
        socket: WebSocketConnection,
        session: XelionSession,
        livenessInterval: Duration,
        livenessTimeout: Duration,
        logger: Logger,
        loop: any EventLoop = MultiThreadedEventLoopGroup.singleton.any()
    ) {
        self.state = NIOLockedValueBox(State(lastSignOfLife: Date()))
        self.socket = socket
        self.session = session
        self.livenessInterval = livenessInterval
        self.livenessTimeout = livenessTimeout
        self.logger = logger
        self.loop = loop
    }

    /// Starts the liveness checks, and the session renewal at `renewalDate` (in ten minutes if unknown).
    func start(renewalDate: Date?) {
        let interval = TimeAmount(livenessInterval)
        let repeated = loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [self] _ in
            checkLiveness()
        }
        state.withLockedValue { $0.liveness = repeated }
        scheduleRenewal(at: renewalDate ?? Date().addingTimeInterval(600))
    }

    /// A message came from the PBX: the connection is alive.
    func sawSignOfLife(at date: Date) {
        let now = ContinuousClock.now
        state.withLockedValue {
            $0.lastSignOfLife = date
            $0.lastHeard = now
        }
    }

    var lastSignOfLife: Date { state.withLockedValue { $0.lastSignOfLife } }

    /// Whether the connection was closed because the PBX did not echo a liveness check in time.
    var livenessTimedOut: Bool { state.withLockedValue { $0.livenessTimedOut } }

    /// Stops every timer and waits for a renewal in flight (cancelled when the calling task is).
    func stop() async {
        let renewing = state.withLockedValue { state -> Task<Void, Never>? in
            state.stopped = true
            state.liveness?.cancel()
            state.echoDeadline?.cancel()
            state.renewal?.cancel()
            state.liveness = nil
            state.echoDeadline = nil
            state.renewal = nil
            return state.renewing
        }
        guard let renewing else { return }
        await withTaskCancellationHandler {
            await renewing.value
        } onCancel: {
            renewing.cancel()
        }
    }

    private func checkLiveness() {
        let sentAt = ContinuousClock.now
        let started = state.withLockedValue { state -> Bool in
            guard !state.stopped else { return false }
            state.echoDeadline = loop.scheduleTask(in: TimeAmount(livenessTimeout)) { [self] in
                echoDue(sentAt: sentAt)
            }
            return true
        }
        guard started else { return }
        let socket = self.socket
        Task { try? await socket.send(.text(XelionSocketRequest.liveness)) }
    }

    private func echoDue(sentAt: ContinuousClock.Instant) {
        let timedOut = state.withLockedValue { state -> Bool in
            guard !state.stopped, state.lastHeard < sentAt else { return false }
            state.livenessTimedOut = true
            return true
        }
        guard timedOut else { return }
        // The socket may look alive (a proxy answering pings) while the PBX is gone; closing it ends
        // the reading loop, which then reports the timeout.
        let socket = self.socket
        Task { _ = try? await socket.close(code: .goingAway, reason: "no answer to the liveness check") }
    }

    /// Never sooner than a second, never later than a day (a renewal then finds nothing due and
    /// schedules the next): a date from the PBX may be anything.
    private func scheduleRenewal(at date: Date) {
        let delay = TimeAmount.milliseconds(Int64(min(max(date.timeIntervalSinceNow, 1), 86_400) * 1000))
        state.withLockedValue { state in
            // Called last by a finished renewal, so nothing is left for `stop()` to wait for.
            state.renewing = nil
            guard !state.stopped else { return }
            state.renewal = loop.scheduleTask(in: delay) { [self] in renew() }
        }
    }

    private func renew() {
        state.withLockedValue { state in
            guard !state.stopped else { return }
            state.renewing = Task { [self] in
                let next: Date
                do {
                    try await session.refreshIfDue()
                    next = await session.renewalDate ?? Date().addingTimeInterval(600)
                } catch {
                    logger.warning("could not renew the PBX session", metadata: ["error": "\(error)"])
                    next = Date().addingTimeInterval(60)
                }
                scheduleRenewal(at: next)
            }
        }
    }
}
