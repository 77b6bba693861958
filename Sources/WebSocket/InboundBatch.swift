import NIOCore

/// The messages of one socket read on their way from the event loop to the consumer of
/// ``WebSocketInboundStream``.
///
/// Text travels as validated bytes, all of a read's in one buffer, and the consumer makes each
/// `String` as it takes the message. Strings made on the event loop and freed by the consumer's
/// thread went back to the event loop thread's malloc arena a read's worth at a time, and glibc
/// handed the freed top of that arena to the kernel and faulted it in again for the next read:
/// 27,000 – 47,000 page faults per 300,000 compressed messages over TLS, about a tenth of the time.
/// A batch is refilled once the consumer has let go of it (``InboundBatchPool``), so its buffers are
/// allocated once per busy connection, not once per read.
///
/// Written only by the channel handler while no other reference exists (the pool checks); read only
/// by the consumer after it was handed over.
final class InboundBatch: @unchecked Sendable {
    private enum Item {
        case text(offset: Int, length: Int, isASCII: Bool)
        case binary(ByteBuffer)
    }

    // Unchecked: the hand-over above means two accesses never overlap, and the runtime's check of
    // every access was 4 % of a compressed receive.
    @exclusivity(unchecked) private var items: [Item] = []
    @exclusivity(unchecked) private var text = ByteBuffer()

    var count: Int { items.count }
    var isEmpty: Bool { items.isEmpty }

    /// Copies the text, so the buffer it came in (the read's, or the inflater's) can be reused.
    func append(_ message: WebSocketText) {
        let offset = text.writerIndex
        let length = text.writeImmutableBuffer(message.bytes)
        items.append(.text(offset: offset, length: length, isASCII: message.isASCII))
    }

    func append(binary: ByteBuffer) {
        items.append(.binary(binary))
    }

    /// Empties the batch for the next read, keeping its capacity.
    func removeAll() {
        items.removeAll(keepingCapacity: true)
        text.clear()
    }

    /// The message at `index`; its `String` is made here, on the caller's thread.
    func message(at index: Int) -> WebSocketMessage {
        switch items[index] {
        case .text(let offset, let length, let isASCII):
            return .text(
                text.withUnsafeReadableBytes { bytes in
                    UTF8Validator.string(
                        ofValidated: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)]), isASCII: isASCII)
                })
        case .binary(let data):
            return .binary(data)
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
