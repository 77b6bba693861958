import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// The REST session endpoints: `POST /api/v1/{tenant}/me/{login,renew,logout,websocket}`, with the
/// documented error codes (10004 wrong credentials, 10005 already logged in unless the old token is
/// presented, 10000 not authenticated).
final class RESTHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let state: NIOLockedValueBox<SimulatorState>
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()

    init(state: NIOLockedValueBox<SimulatorState>) { self.state = state }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request):
            head = request
            body.clear()
        case .body(var chunk):
            if body.readableBytes + chunk.readableBytes <= 1 << 16 { body.writeBuffer(&chunk) }
        case .end:
            guard let head else { return }
            let (status, answer) = route(head, body: body)
            var headers = HTTPHeaders([("Content-Type", "application/json"), ("Content-Length", "\(answer.readableBytes)")])
            if !head.isKeepAlive { headers.add(name: "Connection", value: "close") }
            context.write(
                wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(answer))), promise: nil)
            let keepAlive = head.isKeepAlive
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                if !keepAlive { context.close(promise: nil) }
            }
            self.head = nil
        }
    }

    private func json(_ object: [String: String]) -> ByteBuffer {
        ByteBuffer(bytes: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data())
    }

    private func error(_ status: HTTPResponseStatus, _ code: Int, _ message: String) -> (HTTPResponseStatus, ByteBuffer) {
        (status, ByteBuffer(string: #"{"errorCode":\#(code),"message":"\#(message)","info":""}"#))
    }

    private func route(_ head: HTTPRequestHead, body: ByteBuffer) -> (HTTPResponseStatus, ByteBuffer) {
        let parts = head.uri.split(separator: "?").first.map { $0.split(separator: "/").map(String.init) } ?? []
        guard head.method == .POST, parts.count == 5, parts[0] == "api", parts[3] == "me" else {
            return error(.notFound, 10100, "no such object")
        }
        let tenant = parts[2]
        let authorization = head.headers.first(name: "Authorization").flatMap {
            $0.hasPrefix("xelion ") ? String($0.dropFirst(7)) : nil
        }
        let now = Date()
        return state.withLockedValue { state -> (HTTPResponseStatus, ByteBuffer) in
            func valid(_ token: String?) -> String? {
                guard let token, let session = state.sessions[token], session.tenant == tenant, session.validUntil > now else {
                    return nil
                }
                return token
            }
            func issue(tenant: String, user: String, space: String) -> [String: String] {
                let token = SimulatorState.token()
                let validUntil = now.addingTimeInterval(state.tokenLifetime)
                state.sessions[token] = .init(
                    tenant: tenant, user: user, space: space, validUntil: validUntil, renewal: SimulatorState.token())
                state.spaces["\(tenant)/\(user)/\(space)"] = token
                let until = validUntil.formatted(
                    .iso8601.year().month().day().dateSeparator(.dash).time(includingFractionalSeconds: false).timeSeparator(
                        .colon))
                return [
                    "authentication": token, "renewalToken": state.sessions[token]?.renewal ?? "",
                    "validUntil": until.replacingOccurrences(of: "T", with: " "),
                ]
            }
            switch parts[4] {
            case "login":
                guard let object = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any],
                    let user = object["userName"] as? String, let password = object["password"] as? String
                else { return error(.badRequest, 10002, "userName and password are required") }
                guard let space = object["userSpace"] as? String, !space.isEmpty else {
                    return error(.badRequest, 10011, "userSpace is required")
                }
                guard state.passwords["\(tenant)/\(user)"] == password else {
                    return error(.unauthorized, 10004, "wrong credentials")
                }
                if let old = state.spaces["\(tenant)/\(user)/\(space)"], let session = state.sessions[old],
                    session.validUntil > now, authorization != old
                {
                    return error(.unauthorized, 10005, "already logged in with this userSpace")
                }
                if let old = state.spaces["\(tenant)/\(user)/\(space)"] { state.sessions[old] = nil }
                var answer = issue(tenant: tenant, user: user, space: space)
                answer["serverVersion"] = "callrelay-simulator"
                return (.ok, json(answer))
            case "renew":
                guard let token = valid(authorization), let session = state.sessions[token] else {
                    return error(.unauthorized, 10000, "not authenticated")
                }
                let presented =
                    (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView), options: [.fragmentsAllowed]))
                    as? String
                guard presented == session.renewal || presented == state.passwords["\(tenant)/\(session.user)"] else {
                    return error(.unauthorized, 10021, "bad renewal token")
                }
                state.sessions[token] = nil
                return (.ok, json(issue(tenant: tenant, user: session.user, space: session.space)))
            case "logout":
                if let token = valid(authorization), let session = state.sessions.removeValue(forKey: token) {
                    state.spaces["\(tenant)/\(session.user)/\(session.space)"] = nil
                }
                return (.ok, ByteBuffer())
            case "websocket":
                guard valid(authorization) != nil else { return error(.unauthorized, 10000, "not authenticated") }
                let key = SimulatorState.token()
                state.socketKeys[key] = tenant
                return (.ok, json(["object": state.socketBase + key]))
            default:
                return error(.notFound, 10100, "no such object")
            }
        }
    }
}
