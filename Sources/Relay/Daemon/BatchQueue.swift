import NIOConcurrencyHelpers

/// A bounded queue between many producers and one consumer that takes everything waiting at once:
/// the journal's group commit. A producer waits while the queue is full, so a slow disk slows the
/// sockets' reads instead of growing memory.
final class BatchQueue<Element: Sendable>: Sendable {
    private struct State {
        var buffer: [Element] = []
        var consumer: CheckedContinuation<[Element]?, Never>?
        var producers: [CheckedContinuation<Void, Never>] = []
        var finished = false
    }

    private enum PushStep {
        case refused, done, wait
        case hand([Element], CheckedContinuation<[Element]?, Never>)
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
        let step: PushStep = state.withLockedValue { state in
            if state.finished { return .refused }
            state.buffer.append(element)
            if let consumer = state.consumer {
                state.consumer = nil
                return .hand(take(&state), consumer)
            }
            return state.buffer.count >= capacity ? .wait : .done
        }
        switch step {
        case .refused: return false
        case .done: return true
        case .hand(let batch, let consumer):
            consumer.resume(returning: batch)
            return true
        case .wait:
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLockedValue { state in
                    if state.buffer.count < capacity || state.finished { return true }
                    state.producers.append(continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
            return true
        }
    }

    /// The next batch, oldest first; nil once finished and drained.
    func next() async -> [Element]? {
        await withCheckedContinuation { continuation in
            let (batch, producers) = state.withLockedValue { state -> ([Element]??, [CheckedContinuation<Void, Never>]) in
                if !state.buffer.isEmpty {
                    let batch = take(&state)
                    let woken = state.producers
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
            let consumer = state.buffer.isEmpty ? state.consumer : nil
            if consumer != nil { state.consumer = nil }
            let producers = state.producers
            state.producers = []
            return (consumer, producers)
        }
        consumer?.resume(returning: nil)
        for producer in producers { producer.resume() }
    }

    var count: Int { state.withLockedValue { $0.buffer.count } }

    private func take(_ state: inout State) -> [Element] {
        if state.buffer.count <= maxBatch {
            defer { state.buffer.removeAll(keepingCapacity: true) }
            return state.buffer
        }
        let batch = Array(state.buffer.prefix(maxBatch))
        state.buffer.removeFirst(maxBatch)
        return batch
    }
}
