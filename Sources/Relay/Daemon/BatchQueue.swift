import NIOConcurrencyHelpers

/// A bounded queue between many producers and one consumer that takes everything waiting at once:
/// the journal's group commit. A producer waits while the queue is full, so a slow disk slows the
/// sockets' reads instead of growing memory.
final class BatchQueue<Element: Sendable>: Sendable {
    private struct State {
        /// The waiting elements in batches of at most `maxBatch`, oldest first, so that taking a batch
        /// moves an array instead of copying its elements out of a longer one (a retain and a release
        /// each).
        var batches: [[Element]] = []
        var count = 0
        var consumer: CheckedContinuation<[Element]?, Never>?
        var producers: [(id: Int, continuation: CheckedContinuation<Void, Never>)] = []
        var nextProducer = 0
        var finished = false
    }

    /// Not generic, and without the batch as a payload (a batch handed to a waiting consumer comes out
    /// beside it): a generic enum's copies go through its metadata, looked up on every push.
    private enum PushStep {
        case refused, done, wait
    }

    private let state = NIOLockedValueBox(State())
    let capacity: Int
    let maxBatch: Int

    init(capacity: Int, maxBatch: Int) {
        self.capacity = max(1, capacity)
        self.maxBatch = max(1, maxBatch)
    }

    /// Adds an element; waits while the queue is full. After ``finish()`` elements are refused and
    /// false is returned.
    @discardableResult
    func push(_ element: Element) async -> Bool {
        var handed: (batch: [Element], consumer: CheckedContinuation<[Element]?, Never>)?
        let step: PushStep = state.withLockedValue { state in
            if state.finished { return .refused }
            if let last = state.batches.indices.last, state.batches[last].count < maxBatch {
                state.batches[last].append(element)
            } else {
                state.batches.append([element])
            }
            state.count += 1
            if let consumer = state.consumer {
                state.consumer = nil
                handed = (take(&state), consumer)
                return .done
            }
            return state.count >= capacity ? .wait : .done
        }
        if let handed { handed.consumer.resume(returning: handed.batch) }
        switch step {
        case .refused: return false
        case .done: return true
        case .wait:
            // The element is queued already; the wait only holds the producer back. A cancelled
            // producer (the daemon stopping) stops waiting, so that a consumer that is gone cannot
            // hold it for ever.
            let id = state.withLockedValue { state in
                defer { state.nextProducer += 1 }
                return state.nextProducer
            }
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let resumeNow = state.withLockedValue { state in
                        if state.count < capacity || state.finished || Task.isCancelled { return true }
                        state.producers.append((id, continuation))
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            } onCancel: {
                let waiting = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
                    guard let index = state.producers.firstIndex(where: { $0.id == id }) else { return nil }
                    return state.producers.remove(at: index).continuation
                }
                waiting?.resume()
            }
            return true
        }
    }

    /// The next batch, oldest first; nil once finished and drained.
    func next() async -> [Element]? {
        await withCheckedContinuation { continuation in
            let (batch, producers) = state.withLockedValue { state -> ([Element]??, [CheckedContinuation<Void, Never>]) in
                if state.count > 0 {
                    let batch = take(&state)
                    let woken = state.producers.map(\.continuation)
                    state.producers = []
                    return (.some(batch), woken)
                }
                if state.finished { return (.some(nil), []) }
                state.consumer = continuation
                return (nil, [])
            }
            for producer in producers { producer.resume() }
            if let batch { continuation.resume(returning: batch) }
        }
    }

    /// No more elements: the consumer gets what is left, then nil.
    func finish() {
        let (consumer, producers) = state.withLockedValue { state in
            state.finished = true
            let consumer = state.count == 0 ? state.consumer : nil
            if consumer != nil { state.consumer = nil }
            let producers = state.producers.map(\.continuation)
            state.producers = []
            return (consumer, producers)
        }
        consumer?.resume(returning: nil)
        for producer in producers { producer.resume() }
    }

    var count: Int { state.withLockedValue { $0.count } }

    private func take(_ state: inout State) -> [Element] {
        let batch = state.batches.removeFirst()
        state.count -= batch.count
        return batch
    }
}
