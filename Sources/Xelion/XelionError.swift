/// What the PBX's REST session can answer, as typed errors a person understands
/// (error codes from `../shared/docs/xelion-protocol.md`).
public enum XelionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 10004: the user name or password is wrong.
    case wrongCredentials
    /// 10006: the account is disabled.
    case accountDisabled
    /// 10007: the password has expired.
    case passwordExpired
    /// 10012, 10013: the account needs multi-factor authentication, which a daemon cannot do.
    case multiFactorRequired
    /// 10005: a session with this `userSpace` is alive and we could not present its token.
    case alreadyLoggedIn
    /// 401 on an authenticated call (10000, 1002x): the token is no longer valid.
    case notAuthenticated(code: Int?)
    /// 429 (10400, 10402): back off, for `retryAfter` when the PBX said.
    case tooManyRequests(retryAfter: Duration?)
    /// Another 4xx: a request the PBX refuses, usually a configuration problem.
    case rejected(status: Int, code: Int?, message: String)
    /// 5xx: the PBX has a problem; retry later.
    case serverError(status: Int, message: String)
    /// The PBX could not be reached, or the connection broke.
    case unreachable(String)
    /// The PBX answered something that is not what the protocol says.
    case invalidResponse(String)

    /// Errors an operator must fix (credentials, account, configuration): reported loudly and retried
    /// slowly, so a wrong password never hammers the PBX into locking the account.
    public var needsOperator: Bool {
        switch self {
        case .wrongCredentials, .accountDisabled, .passwordExpired, .multiFactorRequired, .rejected: return true
        default: return false
        }
    }

    public var description: String {
        switch self {
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
