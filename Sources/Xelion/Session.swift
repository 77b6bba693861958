import AsyncHTTPClient
import CallRelayCore
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// One tenant's REST session with the PBX: log in, renew before `validUntil`, ask for socket URLs,
/// log out. An actor, so the token and renewal token are only ever read and replaced in one place.
///
/// The 10005 rule ("already logged in with this userSpace") is why the last token is kept even after
/// it stopped working: a fresh login presents it, which ends the old session instead of being refused.
/// Nothing here logs a password, a token or a renewal token.
public actor XelionSession {
    public let credentials: XelionCredentials
    private let http: HTTPClient
    private let logger: Logger
    private let requestTimeout: TimeAmount

    private var token: String?
    private var renewalToken: String?
    private var validUntil: Date?
    private var issuedAt: Date?
    /// The newest token we were given, kept to present on the next login.
    private var lastToken: String?
    private var lastTokenLoaded = false
    private let tokenStore: (any XelionTokenStore)?

    /// - Parameter tokenStore: keeps the last token across restarts, so a relay that was killed can
    ///   log in again at once instead of waiting for its old session to expire (error 10005).
    public init(
        credentials: XelionCredentials, http: HTTPClient, logger: Logger, requestTimeout: TimeAmount = .seconds(15),
        tokenStore: (any XelionTokenStore)? = nil, minimumRenewalInterval: Duration = .seconds(60)
    ) {
        self.minimumRenewalInterval = minimumRenewalInterval
        self.credentials = credentials
        self.http = http
        self.logger = logger
        self.requestTimeout = requestTimeout
        self.tokenStore = tokenStore
    }

    /// Whether a session token is held (it may still have expired on the PBX's side).
    public var isLoggedIn: Bool { token != nil }

    /// When to renew: five minutes before `validUntil`, or halfway for short-lived tokens, and never
    /// sooner than ``minimumRenewalInterval`` after the token was issued. Nil when `validUntil` is
    /// unknown (or was already past when the token came: a PBX clock ahead of ours, or a local time
    /// sent as UTC), which renews on the caller's own schedule instead of every second.
    public var renewalDate: Date? {
        guard let validUntil else { return nil }
        let issued = issuedAt ?? Date()
        let lifetime = validUntil.timeIntervalSince(issued)
        let due = validUntil.addingTimeInterval(-min(300, max(lifetime / 2, 1)))
        let floor = minimumRenewalInterval.components
        return max(due, issued.addingTimeInterval(Double(floor.seconds) + Double(floor.attoseconds) / 1e18))
    }

    /// The shortest time between a token and its renewal.
    public let minimumRenewalInterval: Duration

    /// Logs in, presenting the last token we had so that a lost session is replaced, not refused.
    public func login() async throws(XelionError) {
        var body: [String: String] = [
            "userName": credentials.userName, "password": credentials.password, "userSpace": credentials.userSpace,
        ]
        if let appKey = credentials.appKey { body["appKey"] = appKey }
        if !lastTokenLoaded {
            lastTokenLoaded = true
            lastToken = lastToken ?? tokenStore?.load()
        }
        let answer = try await post("me/login", json: body, authorization: lastToken)
        try adopt(answer)
        logger.info(
            "logged in to the PBX",
            metadata: ["user": "\(credentials.userName)", "valid_until": "\(validUntil.map { "\($0)" } ?? "unknown")"])
    }

    /// Renews with the renewal token; falls back to a fresh login when the PBX no longer knows us.
    public func renew() async throws(XelionError) {
        guard let renewalToken, token != nil else { return try await login() }
        do {
            let answer = try await post("me/renew", jsonString: renewalToken, authorization: token)
            try adopt(answer)
            logger.debug("renewed the PBX session", metadata: ["valid_until": "\(validUntil.map { "\($0)" } ?? "unknown")"])
        } catch let error where error.code == .notAuthenticated {
            token = nil
            try await login()
        }
    }

    /// Renews if the renewal date has come; logs in if there is no session yet.
    public func refreshIfDue(now: Date = Date()) async throws(XelionError) {
        guard token != nil else { return try await login() }
        if let due = renewalDate, now >= due { try await renew() }
    }

    /// A fresh, single-use socket URL. A 401 means the session is gone: log in again once and retry.
    public func websocketURL() async throws(XelionError) -> String {
        try await refreshIfDue()
        let answer: JSONValue
        do {
            answer = try await post("me/websocket", authorization: token)
        } catch let error where error.code == .notAuthenticated {
            token = nil
            try await login()
            answer = try await post("me/websocket", authorization: token)
        }
        guard let url = answer["object"]?.text, url.hasPrefix("ws") else {
            throw .invalidResponse("me/websocket did not return a ws:// or wss:// URL")
        }
        // The URL is a credential of its own and the socket carries every caller's number: a PBX
        // reached over TLS must not send them in clear.
        try Self.checkSocketURL(url, baseURL: credentials.baseURL)
        return url
    }

    /// Ends the session on the PBX, so the userSpace is free at once. Errors are only logged.
    public func logout() async {
        guard let token else { return }
        do {
            _ = try await post("me/logout", authorization: token)
            logger.info("logged out of the PBX")
            // The session is over: nothing is left to end at the next login.
            lastToken = nil
            keep(nil)
        } catch {
            // The session may live on: keep the token, so the next login ends it instead of meeting 10005.
            logger.debug("logout failed", metadata: ["error": "\(error)"])
        }
        self.token = nil
        self.renewalToken = nil
    }

    // MARK: HTTP

    private func adopt(_ answer: JSONValue) throws(XelionError) {
        guard let newToken = answer["authentication"]?.text, !newToken.isEmpty else {
            throw .invalidResponse("no authentication token in the session answer")
        }
        token = newToken
        lastToken = newToken
        keep(newToken)
        if let renewal = answer["renewalToken"]?.text { renewalToken = renewal }
        let now = Date()
        issuedAt = now
        validUntil = answer["validUntil"]?.text.flatMap { XelionDate.parse($0) }.flatMap { $0 > now ? $0 : nil }
    }

    /// Saves the token for the next run; a failure costs only the quick login after a crash, so it is
    /// a warning, not a reason to stop.
    private func keep(_ token: String?) {
        do {
            try tokenStore?.save(token)
        } catch {
            logger.warning(
                "cannot keep the PBX session token; after a crash the next login may be refused (10005) until the old session expires",
                metadata: ["error": "\(error)"])
        }
    }

    private func post(
        _ path: String, json: [String: String]? = nil, jsonString: String? = nil, authorization: String?
    )
        async throws(XelionError) -> JSONValue
    {
        var request = HTTPClientRequest(url: credentials.baseURL + path)
        request.method = .POST
        request.headers.add(name: "Accept", value: "application/json")
        if let authorization { request.headers.add(name: "Authorization", value: "xelion \(authorization)") }
        do {
            if let json {
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(json)))
            } else if let jsonString {
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(jsonString)))
            }
        } catch {
            throw .invalidResponse("cannot encode the request: \(error)")
        }
        let status: Int
        let headers: HTTPHeaders
        let body: ByteBuffer
        do {
            let response = try await http.execute(request, timeout: requestTimeout)
            status = Int(response.status.code)
            headers = response.headers
            body = try await response.body.collect(upTo: 1 << 20)
        } catch {
            throw .unreachable(Self.describe(error))
        }
        let value =
            body.readableBytes == 0
            ? JSONValue.null : JSONValue(json: String(decoding: body.readableBytesView, as: UTF8.self))
        if (300..<400).contains(status) {
            // Never followed (the login carries the password): the configured URL is wrong or moved.
            let location = headers.first(name: "Location").map(Self.withoutQuery) ?? "nowhere"
            throw .rejected(status: status, code: nil, message: "redirect to \(location) not followed; check the PBX url")
        }
        guard (200..<300).contains(status) else {
            // Whole seconds only (an HTTP date is ignored); the source caps how long it obeys.
            let retryAfter = headers.first(name: "Retry-After").flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
                .map { Duration.seconds(max(0, min($0, 86_400 * 365))) }
            throw XelionError.from(
                status: status,
                code: value?["errorCode"]?.integer,
                message: value?["message"]?.text ?? "",
                retryAfter: retryAfter
            )
        }
        guard let value else { throw .invalidResponse("\(path) answered \(status) with a body that is not JSON") }
        return value
    }

    /// Refuses a `ws://` socket URL from a PBX configured over `https://`.
    public static func checkSocketURL(_ url: String, baseURL: String) throws(XelionError) {
        if baseURL.lowercased().hasPrefix("https://"), !url.lowercased().hasPrefix("wss://") {
            throw .invalidResponse(
                "me/websocket returned a ws:// URL for a PBX reached over https://; refusing a socket in clear")
        }
    }

    /// A URL without its query and fragment, which may carry a token.
    static func withoutQuery(_ url: String) -> String {
        String(url.prefix { $0 != "?" && $0 != "#" })
    }

    private static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        return text.count > 200 ? String(text.prefix(200)) + "…" : text
    }
}

/// Where a session keeps its last token between runs of the relay. The token is a secret: a store
/// keeps it where only the relay's user can read it.
public protocol XelionTokenStore: Sendable {
    func load() -> String?
    /// nil forgets the token (after a logout). Throws when the token could not be kept durably.
    func save(_ token: String?) throws
}
