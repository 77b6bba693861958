/// A parsed `ws://` or `wss://` URL (RFC 6455 §3): host (name, IPv4 or bracketed IPv6), port, and the
/// path with its query. Fragments are not allowed.
public struct WebSocketURL: Sendable, Hashable, CustomStringConvertible {
    public var isSecure: Bool
    /// The host without brackets: `example.com`, `127.0.0.1` or `::1`.
    public var host: String
    public var port: Int
    /// The request target: path and query, at least `/`.
    public var requestTarget: String

    public init(_ string: String) throws(WebSocketError) {
        let invalid = { (reason: String) in WebSocketError.invalidURL(Self.redacted(string), reason: reason) }
        let lowered = string.lowercased()
        let rest: Substring
        if lowered.hasPrefix("wss://") {
            isSecure = true
            rest = string.dropFirst(6)
        } else if lowered.hasPrefix("ws://") {
            isSecure = false
            rest = string.dropFirst(5)
        } else {
            throw invalid("the scheme must be ws:// or wss://")
        }
        if rest.contains("#") { throw invalid("a WebSocket URL cannot have a fragment") }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        let target = rest[authorityEnd...]
        requestTarget = target.isEmpty ? "/" : (target.hasPrefix("?") ? "/" + target : String(target))
        if requestTarget.contains(where: { $0 == " " || $0.isNewline }) {
            throw invalid("the path contains white space")
        }
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw invalid("unclosed IPv6 bracket") }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw invalid("unexpected text after the IPv6 address") }
                portText = after.dropFirst()
            }
            if host.isEmpty || !host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." || $0 == "%" }) {
                throw invalid("'\(host)' is not an IPv6 address")
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            portText = authority[authority.index(after: colon)...]
        } else {
            host = String(authority)
        }
        guard !host.isEmpty else { throw invalid("the host is missing") }
        if host.contains(where: { $0 == " " || $0 == "/" || $0.isNewline }) { throw invalid("the host is malformed") }
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else {
                throw invalid("the port must be a number from 1 to 65535")
            }
            port = value
        } else {
            port = isSecure ? 443 : 80
        }
    }

    /// True when the host is an IP address literal (no SNI is sent for those).
    public var hostIsIPAddress: Bool {
        host.contains(":") || (host.split(separator: ".").count == 4 && host.allSatisfy { $0.isNumber || $0 == "." })
    }

    /// The `Host` header: the port only when it is not the scheme's default, IPv6 in brackets.
    public var hostHeader: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == (isSecure ? 443 : 80) ? name : "\(name):\(port)"
    }

    /// Scheme, host and port; the path and query, which may carry a credential (a PBX's single-use
    /// socket URL does), are shown as `/…`.
    public var description: String { "\(isSecure ? "wss" : "ws")://\(hostHeader)\(requestTarget == "/" ? "/" : "/…")" }

    /// `text` cut after its authority (user information dropped), for an error or a log line: the path and
    /// query of a socket URL may be a credential.
    public static func redacted(_ text: String) -> String {
        guard let colon = text.firstIndex(of: ":"), text[colon...].hasPrefix("://") else { return text.isEmpty ? "" : "…" }
        let scheme = text[..<colon]
        let rest = text[text.index(colon, offsetBy: 3)...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        return "\(scheme)://\(authority)\(authorityEnd == rest.endIndex ? "" : "/…")"
    }
}
