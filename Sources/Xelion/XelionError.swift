/// What the PBX's REST session can answer, as typed errors a person understands
/// (the error codes of Xelion's REST API).
///
/// A struct rather than an enum, so that a new kind of answer is not a breaking change: match on
/// ``code`` (`error.code == .tooManyRequests`) and read ``retryAfter``, ``status`` and ``errorCode``.
public struct XelionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of answer.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Base: String, Hashable, Sendable {
            case wrongCredentials, accountDisabled, passwordExpired, multiFactorRequired, alreadyLoggedIn
            case notAuthenticated, tooManyRequests, rejected, serverError, unreachable, invalidResponse
        }

        let base: Base

        /// 10004: the user name or password is wrong.
        public static let wrongCredentials = Code(base: .wrongCredentials)
        /// 10006: the account is disabled.
        public static let accountDisabled = Code(base: .accountDisabled)
        /// 10007: the password has expired.
        public static let passwordExpired = Code(base: .passwordExpired)
        /// 10012, 10013: the account needs multi-factor authentication, which a daemon cannot do.
        public static let multiFactorRequired = Code(base: .multiFactorRequired)
        /// 10005: a session with this `userSpace` is alive and we could not present its token.
        public static let alreadyLoggedIn = Code(base: .alreadyLoggedIn)
        /// 401 on an authenticated call (10000, 1002x): the token is no longer valid.
        public static let notAuthenticated = Code(base: .notAuthenticated)
        /// 429 (10400, 10402): back off, for ``XelionError/retryAfter`` when the PBX said.
        public static let tooManyRequests = Code(base: .tooManyRequests)
        /// Another 4xx: a request the PBX refuses, usually a configuration problem.
        public static let rejected = Code(base: .rejected)
        /// 5xx: the PBX has a problem; retry later.
        public static let serverError = Code(base: .serverError)
        /// The PBX could not be reached, or the connection broke.
        public static let unreachable = Code(base: .unreachable)
        /// The PBX answered something that is not what the protocol says.
        public static let invalidResponse = Code(base: .invalidResponse)

        public var description: String { base.rawValue }
    }

    enum Base: Sendable, Equatable {
        case wrongCredentials
        case accountDisabled
        case passwordExpired
        case multiFactorRequired
        case alreadyLoggedIn
        case notAuthenticated(code: Int?)
        case tooManyRequests(retryAfter: Duration?)
        case rejected(status: Int, code: Int?, message: String)
        case serverError(status: Int, message: String)
        case unreachable(String)
        case invalidResponse(String)
    }

    let base: Base

    init(_ base: Base) { self.base = base }

    public static let wrongCredentials = Self(.wrongCredentials)
    public static let accountDisabled = Self(.accountDisabled)
    public static let passwordExpired = Self(.passwordExpired)
    public static let multiFactorRequired = Self(.multiFactorRequired)
    public static let alreadyLoggedIn = Self(.alreadyLoggedIn)
    public static func notAuthenticated(code: Int?) -> Self { .init(.notAuthenticated(code: code)) }
    public static func tooManyRequests(retryAfter: Duration?) -> Self { .init(.tooManyRequests(retryAfter: retryAfter)) }
    public static func rejected(status: Int, code: Int?, message: String) -> Self {
        .init(.rejected(status: status, code: code, message: message))
    }
    public static func serverError(status: Int, message: String) -> Self { .init(.serverError(status: status, message: message)) }
    public static func unreachable(_ reason: String) -> Self { .init(.unreachable(reason)) }
    public static func invalidResponse(_ reason: String) -> Self { .init(.invalidResponse(reason)) }

    /// The kind of answer.
    public var code: Code {
        switch base {
        case .wrongCredentials: .wrongCredentials
        case .accountDisabled: .accountDisabled
        case .passwordExpired: .passwordExpired
        case .multiFactorRequired: .multiFactorRequired
        case .alreadyLoggedIn: .alreadyLoggedIn
        case .notAuthenticated: .notAuthenticated
        case .tooManyRequests: .tooManyRequests
        case .rejected: .rejected
        case .serverError: .serverError
        case .unreachable: .unreachable
        case .invalidResponse: .invalidResponse
        }
    }

    /// How long the PBX asked us to wait, after a 429 that said.
    public var retryAfter: Duration? {
        if case .tooManyRequests(let retryAfter) = base { return retryAfter }
        return nil
    }

    /// The HTTP status of a refusal or a server error.
    public var status: Int? {
        switch base {
        case .rejected(let status, _, _), .serverError(let status, _): status
        default: nil
        }
    }

    /// The PBX's own `errorCode`, where it gave one that is not a code above.
    public var errorCode: Int? {
        switch base {
        case .rejected(_, let code, _), .notAuthenticated(let code): code
        default: nil
        }
    }

    /// What the PBX or the connection said.
    public var message: String? {
        switch base {
        case .rejected(_, _, let message), .serverError(_, let message), .unreachable(let message),
            .invalidResponse(let message):
            message
        default: nil
        }
    }

    /// Errors an operator must fix (credentials, account, configuration): reported loudly and retried
    /// slowly, so a wrong password never hammers the PBX into locking the account.
    public var needsOperator: Bool {
        switch base {
        case .wrongCredentials, .accountDisabled, .passwordExpired, .multiFactorRequired, .rejected: return true
        default: return false
        }
    }

    public var description: String {
        switch base {
        case .wrongCredentials: return "the PBX rejected the user name or password (10004)"
        case .accountDisabled: return "the PBX account is disabled (10006)"
        case .passwordExpired: return "the PBX account's password has expired (10007)"
        case .multiFactorRequired: return "the PBX account requires multi-factor authentication, which a relay cannot answer"
        case .alreadyLoggedIn: return "the PBX says this userSpace is already logged in (10005)"
        case .notAuthenticated(let code): return "the PBX session is no longer valid (\(code.map(String.init) ?? "401"))"
        case .tooManyRequests(let after):
            return "the PBX asks us to slow down (429)" + (after.map { ", retry after \($0)" } ?? "")
        case .rejected(let status, let code, let message):
            return "the PBX refused the request: \(status)\(code.map { " error \($0)" } ?? "") \(message)"
        case .serverError(let status, let message): return "the PBX failed with \(status) \(message)"
        case .unreachable(let reason): return "the PBX is unreachable: \(reason)"
        case .invalidResponse(let reason): return "unexpected answer from the PBX: \(reason)"
        }
    }

    /// Maps an error answer (HTTP status and the body's `errorCode`) to its meaning.
    public static func from(status: Int, code: Int?, message: String, retryAfter: Duration?) -> XelionError {
        switch (status, code) {
        case (_, 10004): return .wrongCredentials
        case (_, 10005): return .alreadyLoggedIn
        case (_, 10006): return .accountDisabled
        case (_, 10007): return .passwordExpired
        case (_, 10012), (_, 10013): return .multiFactorRequired
        case (429, _), (_, 10400), (_, 10402): return .tooManyRequests(retryAfter: retryAfter)
        case (401, _): return .notAuthenticated(code: code)
        case (500...599, _): return .serverError(status: status, message: message)
        default: return .rejected(status: status, code: code, message: message)
        }
    }
}
