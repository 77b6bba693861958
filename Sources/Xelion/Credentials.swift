/// Who the relay logs in as, for one tenant. The password never appears in a description.
public struct XelionCredentials: Sendable, CustomStringConvertible {
    /// `https://{host}/api/{version}/{tenant}/`, with the trailing slash.
    public var baseURL: String
    public var userName: String
    public var password: String
    /// Names the session; one fixed value per relay and tenant (at most 200 characters).
    public var userSpace: String
    public var appKey: String?

    public init(baseURL: String, userName: String, password: String, userSpace: String, appKey: String? = nil) {
        self.baseURL = baseURL.hasSuffix("/") ? baseURL : baseURL + "/"
        self.userName = userName
        self.password = password
        self.userSpace = userSpace
        self.appKey = appKey
    }

    public var description: String { "\(userName)@\(baseURL) (userSpace \(userSpace))" }
}
