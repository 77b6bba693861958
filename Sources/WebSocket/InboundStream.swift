import NIOCore
import Synchronization

/// The messages of a ``WebSocketConnection``, with back pressure: while the consumer lags by more
/// than the configured number of messages, the socket is not read.
///
/// The messages of one socket read travel to the consumer as one batch, so the lock, the task
/// cancellation handler and the possible wake-up of the consuming task are paid once per read, not
/// once per message; the iterator hands the batch out message by message, making each text's
/// `String` as it goes (``InboundBatch``).
public struct WebSocketInboundStream: AsyncSequence, Sendable {
    public typealias Element = WebSocketMessage
    public typealias Failure = WebSocketError

    let base: InboundProducer
    let backlog: InboundBacklog

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base.makeAsyncIterator(), backlog: backlog)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: InboundProducer.AsyncIterator
        let backlog: InboundBacklog
        /// The batch being handed out, and the index of its next message.
        var batch: InboundBatch?
        var index = 0

        /// Whether ``next()`` has a message at hand, from the read the last one came with, and so
        /// returns without waiting. A consumer that writes what it takes can gather the messages of
        /// one read and write them at once when this turns false, so that no message waits for a
        /// later one.
        public var hasBufferedMessage: Bool {
            guard let batch else { return false }
            return index < batch.count
        }

        public mutating func next() async throws(WebSocketError) -> WebSocketMessage? {
            while true {
                if let current = batch, index < current.count {
                    let size = current.size(at: index)
                    let message = current.take(at: index)
                    index += 1
                    // Let go of the batch with its last message, so the handler can refill it.
                    if index == current.count { batch = nil }
                    backlog.taken(bytes: size)
                    return message
                }
                do {
                    guard let next = try await base.next() else { return nil }
                    batch = next
                    index = 0
                } catch let error as WebSocketError {
                    throw error
                } catch {
                    throw .connectionLost(reason: "\(error)")
                }
            }
        }
    }
}

typealias InboundProducer = NIOThrowingAsyncSequenceProducer<
    InboundBatch,
    any Error,
    InboundBacklog.NoLimit,
    InboundDelegate
>

/// How many messages the socket delivered that the consumer has not taken yet, and how many bytes
/// they hold, with the watermarks that pause and resume reading: messages alone would let 256
/// compressed 1 MiB messages take 256 MiB. The producer's own back pressure counts batches, whose
/// size is one read's worth of messages, so both are kept here: the channel handler adds a batch
/// before handing it over and pauses at either `high`; the consumer takes one message at a time and
/// asks for reading to resume when both fall below their `low`.
final class InboundBacklog: Sendable {
    let low: Int
    let high: Int
    let lowBytes: Int
    let highBytes: Int
    private let count = Atomic<Int>(0)
    private let bytes = Atomic<Int>(0)
    private let delegate: InboundDelegate

    init(high: Int, highBytes: Int = .max, delegate: InboundDelegate) {
        self.high = max(high, 2)
        self.low = self.high / 2
        self.highBytes = max(highBytes, 2)
        self.lowBytes = self.highBytes / 2
        self.delegate = delegate
    }

    /// Called on the event loop with a batch about to be handed over; true when reading must pause.
    func adding(_ messages: Int, bytes size: Int = 0) -> Bool {
        let queued = count.add(messages, ordering: .relaxed).newValue
        let queuedBytes = bytes.add(size, ordering: .relaxed).newValue
        return queued >= high || queuedBytes >= highBytes
    }

    /// Called by the consumer for every message it takes, with its size.
    func taken(bytes size: Int = 0) {
        let left = count.subtract(1, ordering: .relaxed).newValue
        let leftBytes = bytes.subtract(size, ordering: .relaxed).newValue
        // Crossing into "both low" happens once per drain, after any pause the handler decided on
        // the way up (that decision ran on the event loop, where this lands). While reading is
        // paused nothing is added, so the crossing is seen exactly.
        if left < low, leftBytes < lowBytes, left + 1 >= low || leftBytes + size >= lowBytes {
            delegate.produceMore()
        }
    }

    /// The producer's own strategy: never pause on its count of batches; ``InboundBacklog`` decides.
    struct NoLimit: NIOAsyncSequenceProducerBackPressureStrategy {
        func didYield(bufferDepth: Int) -> Bool { true }
        func didConsume(bufferDepth: Int) -> Bool { true }
    }
}

/// Resumes reading when the consumer of the message stream catches up, and says goodbye when it is
/// gone. Called from any thread; it only ever touches the handler on the handler's event loop.
final class InboundDelegate: NIOAsyncSequenceProducerDelegate, @unchecked Sendable {
    let eventLoop: any EventLoop
    /// Set once, on the event loop, before the producer can call back. Weak: the handler holds the
    /// backlog, which holds this delegate, and the stream may outlive the channel.
    weak var handler: ClientChannelHandler?

    init(eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    func produceMore() {
        eventLoop.execute { self.handler?.resumeReading() }
    }

    func didTerminate() {
        eventLoop.execute { self.handler?.consumerGone() }
    }
}
