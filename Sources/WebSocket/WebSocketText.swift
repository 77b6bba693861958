import NIOCore

/// The bytes of a complete text message, validated as UTF-8 by
/// ``WebSocketConnectionStateMachine``.
///
/// The state machine hands text over as bytes so that whoever keeps the message decides where its
/// `String` is allocated: the client makes it on the consuming task's thread, where it is also freed
/// (see `InboundBatch`).
public struct WebSocketText: Sendable {
    /// The message's UTF-8.
    public let bytes: ByteBuffer
    /// Every byte is below 0x80, which makes the `String` cheaper to build.
    public let isASCII: Bool

    /// Only the state machine makes these: `bytes` must have been validated.
    init(validated bytes: ByteBuffer, isASCII: Bool) {
        self.bytes = bytes
        self.isASCII = isASCII
    }

    /// The text as a `String`, made without validating the bytes again.
    public var string: String {
        bytes.withUnsafeReadableBytes { UTF8Validator.string(ofValidated: $0, isASCII: isASCII) }
    }
}
