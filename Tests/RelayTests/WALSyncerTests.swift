import CallEvents
import Foundation
import Logging
import Synchronization
import Testing
import Xelion

@testable import Relay

/// Stands in for `fdatasync` of the journal's write-ahead log: counts the syncs, can hold them until
/// released, and can fail them.
final class LogSyncGate: Sendable {
    private struct State {
        var calls = 0
        var holding = false
        var failure: Int32 = 0
    }

    private let state = Mutex(State())
    private let released = DispatchSemaphore(value: 0)
    /// The number of each sync that is held, as it begins.
    let held: AsyncStream<Int>
    private let heldContinuation: AsyncStream<Int>.Continuation

    init() {
        (held, heldContinuation) = AsyncStream.makeStream(of: Int.self)
    }

    var calls: Int { state.withLock { $0.calls } }

    /// Later syncs wait for ``release(_:)``.
    func hold() { state.withLock { $0.holding = true } }

    /// Later syncs fail with `code`.
    func fail(with code: Int32) { state.withLock { $0.failure = code } }

    /// Lets `count` held syncs finish.
    func release(_ count: Int) {
        for _ in 0..<count { released.signal() }
    }

    /// The sync itself; runs on the journal's sync thread, which it may block.
    func sync() -> Int32 {
        let (call, holding, failure) = state.withLock { state in
            state.calls += 1
            return (state.calls, state.holding, state.failure)
        }
        if holding {
            heldContinuation.yield(call)
            released.wait()
        }
        return failure
    }
}

@Suite("Journal: commits are synced off the writer, and sinks see only synced events")
struct WALSyncerTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("log-sync-\(UUID().uuidString)")
    let pbx = Notifications()
    let route = DeliveryRoute(tenant: "acme", url: "https://crm.example/hook", types: [])

    func open(_ gate: LogSyncGate) throws -> Journal {
        try Journal(
            directory: directory, options: JournalOptions(durability: .full), create: true, routes: ["acme": [route]],
            sync: { gate.sync() })
    }

    @Test("the writer commits the next batch during a sync, then waits; sinks and deliveries wait for the sync")
    func pipelinedSync() async throws {
        let gate = LogSyncGate()
        let journal = try open(gate)
        // Opening syncs what an earlier process may have left unsynced.
        #expect(gate.calls == 1)
        gate.hold()
        let sink = CollectingSink()
        var held = gate.held.makeAsyncIterator()

        _ = try await journal.commitPipelined([pbx.event(.newCallEvent, call: "a")]) { sink.write($0) }
        #expect(await held.next() == 2)
        // Returned while a's sync is held: the writer is free for the next batch.
        _ = try await journal.commitPipelined([pbx.event(.newCallEvent, call: "b")]) { sink.write($0) }
        #expect(try journal.count() == 2)
        #expect(sink.all.isEmpty)
        #expect(journal.durableSequence == 0)
        #expect(try await journal.dueDeliveries(endpoint: route.endpoint, limit: 10, busyCalls: []).isEmpty)

        // A third commit waits until a is durable (`Journal.unsyncedCommits`).
        let third = Task { try await journal.commitPipelined([pbx.event(.newCallEvent, call: "c")]) { sink.write($0) } }
        gate.release(1)
        _ = try await third.value
        #expect(sink.all.map(\.event.data.callId).first == "a")
        #expect(try await journal.dueDeliveries(endpoint: route.endpoint, limit: 10, busyCalls: []).map(\.sequence).first == 1)

        gate.release(2)
        try await journal.waitUntilDurable()
        #expect(sink.all.map(\.event.data.callId) == ["a", "b", "c"])
        #expect(journal.durableSequence == 3)
        let due = try await journal.dueDeliveries(endpoint: route.endpoint, limit: 10, busyCalls: [])
        #expect(due.map(\.sequence) == [1, 2, 3])
    }

    @Test("a failed sync stops the pipeline with the reason; no unsynced event reaches a sink and nothing more is committed")
    func failedSync() async throws {
        let gate = LogSyncGate()
        let journal = try open(gate)
        gate.fail(with: EIO)
        let sink = CollectingSink()
        let pipeline = EventPipeline(journal: journal, sinks: [sink], logger: Logger(label: "test"))
        let running = Task { try await pipeline.run() }
        for call in ["a", "b", "c"] { await pipeline.submit(pbx.event(.newCallEvent, call: call)) }
        pipeline.finish()
        let result = await running.result
        guard case .failure(let error as JournalError) = result, error.code == .syncFailed, let reason = error.reason else {
            Issue.record("the pipeline ended with \(result), not a sync failure")
            return
        }
        #expect(reason == String(cString: strerror(EIO)))
        #expect("\(error)".contains("Stopping"))
        #expect(sink.all.isEmpty)
        #expect(journal.durableSequence == 0)
        await #expect(throws: JournalError.self) { try await journal.commit([pbx.event(.newCallEvent, call: "d")]) }
    }

    @Test("a journal whose log cannot be synced at start is refused")
    func failedSyncAtOpen() throws {
        let gate = LogSyncGate()
        gate.fail(with: EIO)
        #expect {
            try open(gate)
        } throws: { error in
            guard let error = error as? JournalError, error.code == .syncFailed else { return false }
            return true
        }
    }

    @Test("with the real fdatasync, a commit returns once its sinks have run and its events count as durable")
    func realSync() async throws {
        let journal = try Journal(directory: directory, options: JournalOptions(durability: .full))
        let sink = CollectingSink()
        let outcome = try await journal.commit([pbx.event(.newCallEvent, call: "a")]) { sink.write($0) }
        #expect(sink.all.map(\.sequence) == outcome.committed.map(\.sequence))
        #expect(journal.durableSequence == 1)
    }
}

/// What the pipeline does when the journal cannot take a batch.
@Suite("Pipeline faults", .timeLimit(.minutes(1)))
struct PipelineFaultTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("faults-\(UUID().uuidString)")

    @Test(
        "an event the journal refuses is set aside as a dead letter with the reason; every other event, in the same batch or after, is journaled"
    )
    func poisonIsolated() async throws {
        // Two endpoints under one key: every acme event's delivery rows collide, as a URL listed twice did.
        let route = DeliveryRoute(tenant: "acme", url: "https://crm.example.com/hooks", types: [])
        let journal = try Journal(directory: directory, routes: ["acme": [route, route]])
        let deadLetters = DeadLetterFile(dataDirectory: directory)
        let sink = CollectingSink()
        let pipeline = EventPipeline(journal: journal, sinks: [sink], logger: Logger(label: "test"), deadLetters: deadLetters)
        let acme = Notifications(tenant: "acme")
        let beta = Notifications(tenant: "beta")
        let running = Task { try await pipeline.run() }
        for index in 0..<40 {
            await pipeline.submit((index % 4 == 0 ? acme : beta).event(.newCallEvent, call: "call-\(index)"))
        }
        pipeline.finish()
        try await running.value
        let journaled = try journal.entries(after: 0, limit: 100).compactMap { try? CallEvent.decode(json: $0.json) }
        #expect(journaled.count == 30)
        #expect(journaled.allSatisfy { $0.data.tenant == "beta" })
        #expect(journaled.map(\.data.callId) == (0..<40).filter { $0 % 4 != 0 }.map { "call-\($0)" }, "in order")
        #expect(pipeline.stats.refused == 10)
        let letters = try deadLetters.all()
        #expect(letters.count == 10)
        #expect(letters.allSatisfy { $0.tenant == "acme" && $0.reason.contains("refused by the journal") })
        #expect(letters.allSatisfy { $0.reason.localizedCaseInsensitiveContains("constraint") })
        #expect(
            try letters.map { try CallEvent.decode(json: $0.message).data.callId }
                == (0..<40).filter { $0 % 4 == 0 }.map { "call-\($0)" })
    }

    @Test("a failed sync with the queue full still stops the pipeline, and no producer is left waiting")
    func failedSyncWithFullQueue() async throws {
        let gate = LogSyncGate()
        let journal = try Journal(
            directory: directory, options: JournalOptions(durability: .full), create: true, routes: [:], sync: { gate.sync() })
        gate.fail(with: EIO)
        let pipeline = EventPipeline(journal: journal, sinks: [], logger: Logger(label: "test"), queueCapacity: 4)
        let pbx = Notifications()
        // Far more than the queue holds: these producers block until the pipeline takes their events.
        let producers = (0..<8).map { producer in
            Task {
                for index in 0..<50 { await pipeline.submit(pbx.event(.newCallEvent, call: "p\(producer)-\(index)")) }
            }
        }
        let result = await Task { try await pipeline.run() }.result
        guard case .failure(let error as JournalError) = result, error.code == .syncFailed else {
            Issue.record("the pipeline ended with \(result)")
            return
        }
        for producer in producers { await producer.value }
    }

    @Test("a producer waiting on a full queue stops waiting when its task is cancelled")
    func cancelledProducer() async throws {
        let queue = BatchQueue<Int>(capacity: 1, maxBatch: 1)
        let producer = Task { await queue.push(1) }
        // The first push fills the queue and waits; nothing consumes.
        while queue.count == 0 { await Task.yield() }
        producer.cancel()
        #expect(await producer.value, "queued, and returned")
    }
}
