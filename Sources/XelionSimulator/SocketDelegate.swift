import Foundation
import NIOConcurrencyHelpers
import WebSocket

/// The admin socket: single-use keys, subscriptions per connection, the `test` echo.
final class SocketDelegate: WebSocketServerDelegate {
    let state: NIOLockedValueBox<SimulatorState>

    init(state: NIOLockedValueBox<SimulatorState>) { self.state = state }

    func opened(_ connection: WebSocketServerConnection) {
        let key = connection.path.split(separator: "/").last.map(String.init) ?? ""
        let tenant = state.withLockedValue { state -> String? in
            guard let tenant = state.socketKeys.removeValue(forKey: key) else { return nil }
            state.connections[connection] = .init(tenant: tenant)
            state.tenantConnections[tenant, default: []].insert(connection)
            return tenant
        }
        if tenant == nil { connection.close(code: WebSocketCloseCode(4401), reason: "unknown or used websocket key") }
    }

    func received(_ message: WebSocketMessage, on connection: WebSocketServerConnection) {
        guard case .text(let text) = message,
            let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
        else { return }
        switch object["messageType"] as? String {
        case "test":
            connection.send(.text(text))
        case "notificationRequest":
            toggle(object, on: connection)
        case "multiNotificationRequest":
            for item in object["notifications"] as? [[String: Any]] ?? [] { toggle(item, on: connection) }
        default:
            break
        }
    }

    private func toggle(_ request: [String: Any], on connection: WebSocketServerConnection) {
        guard let type = request["notificationType"] as? String else { return }
        let on = (request["toggle"] as? Bool) ?? ((request["toggle"] as? String) == "true")
        state.withLockedValue { state in
            if on {
                state.connections[connection]?.subscribed.insert(type)
            } else {
                state.connections[connection]?.subscribed.remove(type)
            }
        }
    }

    func closed(_ connection: WebSocketServerConnection) {
        state.withLockedValue { state in
            guard let tenant = state.connections.removeValue(forKey: connection)?.tenant else { return }
            state.tenantConnections[tenant]?.remove(connection)
            if state.tenantConnections[tenant]?.isEmpty == true { state.tenantConnections[tenant] = nil }
        }
    }
}
