import NIOCore

/// The messages of one socket read on their way from the event loop to the consumer of
/// ``WebSocketInboundStream``.
///
/// Text travels as validated bytes, all of a read's in one buffer, and the consumer makes each
/// `String` as it takes the message. Strings made on the event loop and freed by the consumer's
/// thread went back to the event loop thread's malloc arena a read's worth at a time, and glibc
/// handed the freed top of that arena to the kernel and faulted it in again for the next read. A batch is refilled once the consumer has let go of it (``InboundBatchPool``), so its buffers are
/// allocated once per busy connection, not once per read.
///
/// One side at a time: the channel handler fills it while no other reference exists (the pool
/// checks), then only the consumer touches it until it lets go.
final class InboundBatch: @unchecked Sendable {
    private enum Item {
        case text(offset: Int, length: Int, isASCII: Bool)
        case binary(ByteBuffer)
        /// A binary message already handed out: the batch no longer holds its buffer, which may be
        /// the channel's read buffer, kept from reuse while anyone holds it.
        case taken
    }

    // Unchecked: the hand-over above means two accesses never overlap, and the runtime's check of
    // every access is a measurable share of a compressed receive.
    @exclusivity(unchecked) private var items: [Item] = []
    @exclusivity(unchecked) private var text = ByteBuffer()

    /// The bytes of its messages, for the backlog's bound.
    @exclusivity(unchecked) private(set) var bytes = 0

    var count: Int { items.count }
    var isEmpty: Bool { items.isEmpty }

    /// The bytes of the message at `index`, before it is taken.
    func size(at index: Int) -> Int {
        switch items[index] {
        case .text(_, let length, _): return length
        case .binary(let data): return data.readableBytes
        case .taken: return 0
        }
    }

    /// Copies the text, so the buffer it came in (the read's, or the inflater's) can be reused.
    func append(_ message: WebSocketText) {
        let offset = text.writerIndex
        let length = text.writeImmutableBuffer(message.bytes)
        items.append(.text(offset: offset, length: length, isASCII: message.isASCII))
        bytes += length
    }

    func append(binary: ByteBuffer) {
        items.append(.binary(binary))
        bytes += binary.readableBytes
    }

    /// Empties the batch for the next read, keeping its capacity.
    func removeAll() {
        items.removeAll(keepingCapacity: true)
        text.clear()
        bytes = 0
    }

    /// Hands out the message at `index`, once; a text's `String` is made here, on the caller's thread.
    func take(at index: Int) -> WebSocketMessage {
        switch items[index] {
        case .text(let offset, let length, let isASCII):
            return .text(
                text.withUnsafeReadableBytes { bytes in
                    UTF8Validator.string(
                        ofValidated: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)]), isASCII: isASCII)
                })
        case .binary(let data):
            items[index] = .taken
            return .binary(data)
        case .taken:
            preconditionFailure("message \(index) of the batch was already taken")
        }
    }
}

/// The batches a channel handler has handed to its consumer, kept so that each is refilled once the
/// consumer is done with it. A consumer that lags by more than `limit` reads gets new batches (and
/// frees the old ones itself); an idle connection keeps none (``removeAll()``).
struct InboundBatchPool {
    private var batches: [InboundBatch] = []
    private let limit = 4

    /// An empty batch that nobody else holds.
    mutating func take() -> InboundBatch {
        for index in batches.indices where isKnownUniquelyReferenced(&batches[index]) {
            let batch = batches[index]
            batch.removeAll()
            return batch
        }
        let batch = InboundBatch()
        if batches.count == limit { batches.removeFirst() }
        batches.append(batch)
        return batch
    }

    mutating func removeAll() { batches.removeAll() }
}
