import CallRelayCore
import Foundation

/// One message from the PBX's socket, decoded.
public enum XelionSocketMessage: Sendable, Equatable {
    /// One of the subscribed call events.
    case callEvent(XelionCallEvent)
    /// A notification of a type we do not map (counted, logged at debug level, never fatal).
    case otherNotification(type: String, notification: JSONValue)
    /// The echo of our `{"messageType":"test"}` liveness check.
    case livenessEcho
    /// Something that is not a notification we can read; kept aside as a dead letter.
    case malformed(reason: String, text: String)

    /// Decodes a text message. Never throws: bad input becomes `.malformed` with the reason.
    public static func decode(_ text: String) -> XelionSocketMessage {
        let parsed: (members: JSONObjectMembers, expanded: JSONObjectMembers?)
        do {
            parsed = try JSONParser.parseObject(text, expanding: "notification", knownKeys: XelionCallEvent.messageKeys)
        } catch {
            return .malformed(reason: error.reason == JSONParser.notAnObject ? "not a JSON object" : "not JSON", text: text)
        }
        let object = parsed.members
        if object["messageType"]?.text == "test" { return .livenessEcho }
        guard let type = object["notificationType"]?.text else {
            return .malformed(reason: "no notificationType", text: text)
        }
        guard let notification = object["notification"] else {
            return .malformed(reason: "\(type) without a notification", text: text)
        }
        guard let known = XelionCallEventType(rawValue: type) else {
            return .otherNotification(type: type, notification: parsed.expanded.map { .object($0.dictionary) } ?? notification)
        }
        do {
            if let members = parsed.expanded {
                return .callEvent(try XelionCallEvent(type: known, members: members))
            }
            return .callEvent(try XelionCallEvent(type: known, notification: notification))
        } catch {
            return .malformed(reason: error.reason, text: text)
        }
    }
}

/// What the relay sends on the socket.
public enum XelionSocketRequest {
    /// Subscribes (or unsubscribes) one notification type on this connection.
    public static func subscribe(_ type: String, on: Bool = true) -> String {
        #"{"messageType":"notificationRequest","notificationType":"\#(type)","toggle":\#(on)}"#
    }

    /// The application-level liveness check: the PBX echoes it unchanged.
    public static let liveness = #"{"messageType":"test"}"#
}
