import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import WebSocket
import Xelion

/// One tenant's connection to its PBX, held forever: log in, fetch a fresh socket URL, connect,
/// subscribe, read; on any loss record the gap, wait (capped exponential backoff with full jitter)
/// and do it again. Cancelling the task that runs ``run()`` closes the socket with 1001 and logs out.
public final class XelionTenantSource: CallEventSource {
    public let configuration: TenantSourceConfiguration
    public let session: XelionSession
    private let gaps: GapLog
    private let deadLetters: DeadLetterFile
    private let logger: Logger
    private let emit: @Sendable (TenantEvent) async -> Void
    private let gate: ConnectGate?
    private let signsOfLife: SignsOfLife?
    /// Wall time, for what is recorded (gaps, dead letters, an event's `received_at`); every deadline
    /// in memory runs on the monotonic clock instead.
    private let wallClock: @Sendable () -> Date
    private let statusBox = NIOLockedValueBox(TenantStatus())

    /// - Parameters:
    ///   - signsOfLife: where the last sign of life is kept across restarts, so that the downtime of
    ///     the relay itself is recorded as a gap.
    ///   - wallClock: the time of day, for what is recorded.
    public init(
        configuration: TenantSourceConfiguration,
        session: XelionSession,
        gaps: GapLog,
        deadLetters: DeadLetterFile,
        logger: Logger,
        gate: ConnectGate? = nil,
        signsOfLife: SignsOfLife? = nil,
        wallClock: @escaping @Sendable () -> Date = { Date() },
        emit: @escaping @Sendable (TenantEvent) async -> Void
    ) {
        self.wallClock = wallClock
        self.gate = gate
        self.signsOfLife = signsOfLife
        self.configuration = configuration
        self.session = session
        self.gaps = gaps
        self.deadLetters = deadLetters
        var logger = logger
        logger[metadataKey: "tenant"] = "\(configuration.tenant)"
        self.logger = logger
        self.emit = emit
    }

    public var tenant: String { configuration.tenant }

    public var status: TenantStatus { statusBox.withLockedValue { $0 } }

    private func update(_ change: (inout TenantStatus) -> Void) { statusBox.withLockedValue(change) }

    /// Runs until the task is cancelled.
    public func run() async {
        var policy = configuration.reconnect
        var gapStart: Date?
        var gapCause = ""
        // The time the relay was down (a deploy, a crash, `kill -9`): from the last sign of life on
        // file to the first subscription.
        if let alive = signsOfLife?.load(tenant: configuration.tenant) {
            gapStart = alive
            gapCause = "the relay was not running"
        }
        while !Task.isCancelled {
            update { $0.state = .connecting }
            var connectedAt: ContinuousClock.Instant?
            var lastAlive: Date?
            var messages = 0
            let cause: Cause
            do {
                let socket = try await connectAndSubscribe()
                let now = wallClock()
                connectedAt = .now
                lastAlive = now
                update {
                    $0.state = .subscribed
                    $0.connections += 1
                }
                logger.info("subscribed", metadata: ["events": "\(configuration.events.joined(separator: ","))"])
                if let start = gapStart {
                    await recordGap(Gap(tenant: configuration.tenant, start: start, end: now, cause: gapCause))
                    gapStart = nil
                }
                saveSignOfLife(now)
                cause = await serve(socket, lastAlive: &lastAlive, messages: &messages)
            } catch let error as XelionError {
                cause = .pbx(error)
            } catch let error as WebSocketError {
                cause = .socket(error)
            } catch {
                cause = .other("\(error)")
            }
            if Task.isCancelled {
                // Subscribed until now: the stream stops with the relay.
                if connectedAt != nil, gapStart == nil {
                    gapStart = wallClock()
                    gapCause = "the relay stopped"
                }
                break
            }

            let outcome: ReconnectPolicy.Outcome
            if let connectedAt {
                update { $0.drops += 1 }
                // The PBX does not replay: everything from the last sign of life to the next
                // subscription may be missing.
                if gapStart == nil {
                    gapStart = lastAlive ?? wallClock()
                    gapCause = cause.description
                }
                if let gapStart { saveSignOfLife(gapStart) }
                outcome = .dropped(lived: connectedAt.duration(to: .now), messages: messages)
            } else if case .pbx(let error) = cause, error.needsOperator {
                outcome = .needsOperator
            } else if case .pbx(let error) = cause, error.code == .tooManyRequests {
                outcome = .throttled(retryAfter: error.retryAfter)
            } else {
                outcome = .failed
            }
            let wait = policy.wait(after: outcome)
            switch outcome {
            case .needsOperator:
                logger.error(
                    "the PBX refused this tenant; an operator must act", metadata: ["error": "\(cause)", "retry_in": "\(wait)"])
            case .throttled(let retryAfter):
                logger.warning(
                    "the PBX asks us to slow down",
                    metadata: [
                        "retry_in": "\(wait)", "retry_after": "\(retryAfter.map { "\($0)" } ?? "not given")",
                        "longest_obeyed": "\(policy.maxRetryAfter)",
                    ])
            case .dropped, .failed:
                logger.warning(
                    connectedAt == nil ? "could not connect" : "connection lost",
                    metadata: ["cause": "\(cause)", "retry_in": "\(wait)"]
                )
            }
            update {
                $0.state = .waiting
                $0.lastError = cause.description
            }
            do {
                try await Task.sleep(for: wait)
            } catch {
                break
            }
        }
        update { $0.state = .stopped }
        // Recorded open, so that `callrelay gaps` shows the window while the relay is down; the next
        // start records it again with its end.
        if signsOfLife != nil {
            let start = gapStart ?? wallClock()
            saveSignOfLife(start)
            await recordGap(
                Gap(
                    tenant: configuration.tenant, start: start, end: nil, cause: gapCause.isEmpty ? "the relay stopped" : gapCause
                ))
        }
        // Log out outside the cancelled task, so the request is not cancelled with it.
        let session = self.session
        await Task { await session.logout() }.value
    }

    private func saveSignOfLife(_ date: Date) {
        signsOfLife?.record(date, tenant: configuration.tenant)
    }

    /// Logs in if needed, fetches a fresh socket URL, connects and subscribes: the part that the gate
    /// paces across tenants.
    private func connectAndSubscribe() async throws -> WebSocketConnection {
        let work: @Sendable () async throws -> WebSocketConnection = { [session, configuration, logger] in
            let url = try await session.websocketURL()
            let socket = try await WebSocketClient.connect(to: url, configuration: configuration.socket, logger: logger)
            for type in configuration.events {
                try await socket.send(.text(XelionSocketRequest.subscribe(type)))
            }
            return socket
        }
        // In a child task, so that the stack this deep work grows is freed when it ends: a task keeps
        // its peak stack for life, and this one then waits on a socket for days.
        let gate = self.gate
        async let socket: WebSocketConnection = {
            if let gate { return try await gate.run(work) }
            return try await work()
        }()
        return try await socket
    }

    /// Why a connection ended or could not be made.
    enum Cause: CustomStringConvertible {
        case closed(WebSocketCloseFrame)
        case socket(WebSocketError)
        case pbx(XelionError)
        case livenessTimeout(Duration)
        case other(String)
        case shutdown

        var description: String {
            switch self {
            case .closed(let frame): return "the PBX closed the socket with \(frame)"
            case .socket(let error): return "\(error)"
            case .pbx(let error): return "\(error)"
            case .livenessTimeout(let timeout): return "no echo of the liveness check within \(timeout)"
            case .other(let reason): return reason
            case .shutdown: return "shutting down"
            }
        }
    }

    /// Reads one connection until it ends, with the liveness check and session renewal on timers.
    ///
    /// The messages are read in the source's own task: an idle tenant then costs one task, not one
    /// per chore (see ``ConnectionTimers``).
    private func serve(_ socket: WebSocketConnection, lastAlive: inout Date?, messages: inout Int) async -> Cause {
        let timers = ConnectionTimers(
            socket: socket, session: session, livenessInterval: configuration.livenessInterval,
            livenessTimeout: configuration.livenessTimeout, logger: logger)
        timers.start(renewalDate: await session.renewalDate)
        var cause: Cause
        // Noted at most once a second: the book is shared by every tenant, and the file is written
        // far less often.
        var notedAt = ContinuousClock.now
        do {
            for try await message in socket.messages {
                messages += 1
                await handle(message, timers: timers)
                if ContinuousClock.now - notedAt >= .seconds(1) {
                    notedAt = .now
                    saveSignOfLife(timers.lastSignOfLife)
                }
            }
            cause = .closed(try await socket.closeResult)
        } catch {
            cause = Task.isCancelled ? .shutdown : .socket(error)
        }
        await timers.stop()
        lastAlive = timers.lastSignOfLife
        if Task.isCancelled {
            // Shutting down: the cancelled message stream already sent close 1001; let it finish.
            _ = try? await socket.close(code: .goingAway, reason: "relay shutting down")
            return .shutdown
        }
        if timers.livenessTimedOut { cause = .livenessTimeout(configuration.livenessTimeout) }
        return cause
    }

    private func handle(_ message: WebSocketMessage, timers: ConnectionTimers) async {
        let now = wallClock()
        let text: String
        switch message {
        case .text(let value): text = value
        case .binary(let data):
            update { $0.malformed += 1 }
            await keep(
                DeadLetter(
                    tenant: configuration.tenant, receivedAt: now, reason: "binary message",
                    message: Data(data.readableBytesView).base64EncodedString()))
            return
        }
        switch XelionSocketMessage.decode(text) {
        case .callEvent(let event):
            timers.sawSignOfLife(at: now)
            update { $0.events += 1 }
            await emit(TenantEvent(tenant: configuration.tenant, receivedAt: now, event: event))
        case .livenessEcho:
            timers.sawSignOfLife(at: now)
        case .otherNotification(let type, _):
            timers.sawSignOfLife(at: now)
            update { $0.unknownNotifications += 1 }
            logger.debug("notification type not relayed", metadata: ["type": "\(type)"])
        case .malformed(let reason, let text):
            update { $0.malformed += 1 }
            logger.warning("malformed message kept aside", metadata: ["reason": "\(reason)"])
            await keep(DeadLetter(tenant: configuration.tenant, receivedAt: now, reason: reason, message: text))
        }
    }

    private func keep(_ letter: DeadLetter) async {
        do {
            try await deadLetters.keep(letter)
        } catch {
            logger.error("cannot write the dead-letter file", metadata: ["error": "\(error)"])
        }
    }

    private func recordGap(_ gap: Gap) async {
        update { $0.gaps += 1 }
        logger.warning(
            gap.end == nil ? "gap in the event stream, open until the next start" : "gap in the event stream",
            metadata: ["from": "\(gap.start)", "to": "\(gap.end.map { "\($0)" } ?? "open")", "cause": "\(gap.cause)"])
        do {
            try await gaps.record(gap)
        } catch {
            logger.error("cannot write the gap log", metadata: ["error": "\(error)"])
        }
    }
}
