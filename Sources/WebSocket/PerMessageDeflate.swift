import Foundation

/// permessage-deflate (RFC 7692) as a client offers it.
///
/// Memory is the cost to watch: zlib's compressor holds about 256 KiB and its decompressor about
/// 40 KiB per connection while they exist. Both are created only when first needed (a message above
/// ``compressionThreshold`` to send, a compressed message received); with no context takeover the
/// matching one is released when a burst of reads ends, so an idle connection holds neither.
public struct PerMessageDeflateOptions: Sendable, Hashable {
    /// Ask the server to compress every message on its own (`server_no_context_takeover`): an idle
    /// connection then keeps no decompressor, at some cost in compression ratio.
    public var serverNoContextTakeover: Bool
    /// Announce that we compress every message on its own (`client_no_context_takeover`): we then
    /// keep no compressor between messages.
    public var clientNoContextTakeover: Bool
    /// Ask the server for a smaller window (8...15 bits): our decompressor's window is `2^bits` bytes.
    public var serverMaxWindowBits: Int?
    /// The largest window we compress with (9...15 bits); the server may ask for less.
    public var clientMaxWindowBits: Int?
    /// Messages shorter than this many bytes are sent uncompressed: small messages gain little and
    /// would otherwise make a connection allocate a compressor.
    public var compressionThreshold: Int
    /// zlib's compression level, 1...9.
    public var compressionLevel: Int
    /// zlib's memory level, 1...9; the compressor's hash tables take `2^(level+9)` bytes.
    public var memoryLevel: Int

    public init(
        serverNoContextTakeover: Bool = false,
        clientNoContextTakeover: Bool = false,
        serverMaxWindowBits: Int? = nil,
        clientMaxWindowBits: Int? = nil,
        compressionThreshold: Int = 256,
        compressionLevel: Int = 6,
        memoryLevel: Int = 8
    ) {
        self.serverNoContextTakeover = serverNoContextTakeover
        self.clientNoContextTakeover = clientNoContextTakeover
        self.serverMaxWindowBits = serverMaxWindowBits
        self.clientMaxWindowBits = clientMaxWindowBits
        self.compressionThreshold = compressionThreshold
        self.compressionLevel = compressionLevel
        self.memoryLevel = memoryLevel
    }

    /// The `Sec-WebSocket-Extensions` offer. `client_max_window_bits` is always offered, so a server
    /// may ask us for a smaller window.
    var offer: String {
        var parts = ["permessage-deflate"]
        if serverNoContextTakeover { parts.append("server_no_context_takeover") }
        if clientNoContextTakeover { parts.append("client_no_context_takeover") }
        if let bits = serverMaxWindowBits { parts.append("server_max_window_bits=\(bits)") }
        parts.append(clientMaxWindowBits.map { "client_max_window_bits=\($0)" } ?? "client_max_window_bits")
        return parts.joined(separator: "; ")
    }

    /// Checks the values a person configured; returns a reason when one is out of range.
    func validate() -> String? {
        if let bits = serverMaxWindowBits, !(8...15).contains(bits) {
            return "server_max_window_bits must be 8...15, not \(bits)"
        }
        if let bits = clientMaxWindowBits, !(9...15).contains(bits) {
            return "client_max_window_bits must be 9...15, not \(bits)"
        }
        if !(1...9).contains(compressionLevel) { return "compression level must be 1...9" }
        if !(1...9).contains(memoryLevel) { return "memory level must be 1...9" }
        if compressionThreshold < 0 { return "compression threshold must not be negative" }
        return nil
    }
}

/// What both sides agreed on for permessage-deflate, from our point of view.
public struct NegotiatedDeflate: Sendable, Hashable {
    /// The peer resets its compressor after every message: we may drop our decompressor between them.
    public var peerNoContextTakeover: Bool
    /// We reset our compressor after every message.
    public var localNoContextTakeover: Bool
    /// The window the peer compresses with; our decompressor's size.
    public var peerMaxWindowBits: Int
    /// The window we compress with. Zero means we must not compress (the peer asked for 8 bits, which
    /// zlib cannot produce); every message then goes out uncompressed, which RFC 7692 allows.
    public var localMaxWindowBits: Int
    public var compressionThreshold: Int
    public var compressionLevel: Int
    public var memoryLevel: Int

    public init(
        peerNoContextTakeover: Bool = false,
        localNoContextTakeover: Bool = false,
        peerMaxWindowBits: Int = 15,
        localMaxWindowBits: Int = 15,
        compressionThreshold: Int = 256,
        compressionLevel: Int = 6,
        memoryLevel: Int = 8
    ) {
        self.peerNoContextTakeover = peerNoContextTakeover
        self.localNoContextTakeover = localNoContextTakeover
        self.peerMaxWindowBits = peerMaxWindowBits
        self.localMaxWindowBits = localMaxWindowBits
        self.compressionThreshold = compressionThreshold
        self.compressionLevel = compressionLevel
        self.memoryLevel = memoryLevel
    }

    /// Reads the server's `Sec-WebSocket-Extensions` answer to our offer (RFC 7692 §7.1). Anything we
    /// did not offer, a duplicate or malformed parameter, or a value out of range fails the handshake.
    static func accept(response: [String], offered: PerMessageDeflateOptions?) throws(WebSocketError) -> NegotiatedDeflate? {
        let extensions = try ExtensionHeader.parse(response)
        guard let first = extensions.first else { return nil }
        guard let offered else {
            throw .handshakeRejected(reason: "the server chose extension '\(first.name)', which we did not offer")
        }
        guard extensions.count == 1 else {
            throw .handshakeRejected(reason: "the server chose \(extensions.count) extensions; we offered one")
        }
        guard first.name == "permessage-deflate" else {
            throw .handshakeRejected(reason: "the server chose extension '\(first.name)', which we did not offer")
        }
        var result = NegotiatedDeflate(
            localNoContextTakeover: offered.clientNoContextTakeover,
            localMaxWindowBits: offered.clientMaxWindowBits ?? 15,
            compressionThreshold: offered.compressionThreshold,
            compressionLevel: offered.compressionLevel,
            memoryLevel: offered.memoryLevel
        )
        var seen = Set<String>()
        for (name, value) in first.parameters {
            guard seen.insert(name).inserted else {
                throw .handshakeRejected(reason: "permessage-deflate parameter '\(name)' given twice")
            }
            switch name {
            case "server_no_context_takeover":
                guard value == nil else { throw .handshakeRejected(reason: "\(name) takes no value") }
                result.peerNoContextTakeover = true
            case "client_no_context_takeover":
                guard value == nil else { throw .handshakeRejected(reason: "\(name) takes no value") }
                result.localNoContextTakeover = true
            case "server_max_window_bits":
                let bits = try windowBits(name, value)
                if let asked = offered.serverMaxWindowBits, bits > asked {
                    throw .handshakeRejected(reason: "server_max_window_bits=\(bits) exceeds the \(asked) we asked for")
                }
                result.peerMaxWindowBits = bits
            case "client_max_window_bits":
                let bits = try windowBits(name, value)
                if let offeredBits = offered.clientMaxWindowBits, bits > offeredBits {
                    throw .handshakeRejected(reason: "client_max_window_bits=\(bits) exceeds the \(offeredBits) we offered")
                }
                result.localMaxWindowBits = bits == 8 ? 0 : bits
            default:
                throw .handshakeRejected(reason: "unknown permessage-deflate parameter '\(name)'")
            }
        }
        return result
    }

    /// RFC 7692 §7.1.2.1: a decimal integer from 8 to 15 without leading zeros (`010`, `09` and `+9` are refused).
    private static func windowBits(_ name: String, _ value: String?) throws(WebSocketError) -> Int {
        guard let value, let first = value.utf8.first, first != UInt8(ascii: "0"),
            value.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }), let bits = Int(value),
            (8...15).contains(bits)
        else {
            throw .handshakeRejected(reason: "\(name) needs a value from 8 to 15, got '\(value ?? "")'")
        }
        return bits
    }
}

/// One entry of a `Sec-WebSocket-Extensions` header: a name and its parameters.
struct ExtensionHeader {
    var name: String
    var parameters: [(String, String?)]

    /// Parses every header line given (there may be several), each a comma-separated list.
    static func parse(_ lines: [String]) throws(WebSocketError) -> [ExtensionHeader] {
        var result: [ExtensionHeader] = []
        for line in lines {
            for item in line.split(separator: ",", omittingEmptySubsequences: true) {
                let pieces = item.split(separator: ";", omittingEmptySubsequences: false).map {
                    $0.trimmingCharacters(in: .whitespaces)
                }
                guard let name = pieces.first, !name.isEmpty else {
                    throw .handshakeRejected(reason: "malformed Sec-WebSocket-Extensions '\(line)'")
                }
                var parameters: [(String, String?)] = []
                for piece in pieces.dropFirst() {
                    guard !piece.isEmpty else {
                        throw .handshakeRejected(reason: "malformed Sec-WebSocket-Extensions '\(line)'")
                    }
                    if let equals = piece.firstIndex(of: "=") {
                        let key = piece[..<equals].trimmingCharacters(in: .whitespaces)
                        var value = piece[piece.index(after: equals)...].trimmingCharacters(in: .whitespaces)
                        if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
                            value = String(value.dropFirst().dropLast())
                        }
                        parameters.append((key.lowercased(), value))
                    } else {
                        parameters.append((piece.lowercased(), nil))
                    }
                }
                result.append(ExtensionHeader(name: name.lowercased(), parameters: parameters))
            }
        }
        return result
    }
}
