import Foundation
import Xelion
import Yams

/// `tenants:`: each tenant and its provider.
extension ConfigurationReader {
    mutating func tenant(_ node: Node, path: String) -> RelayConfiguration.Tenant? {
        guard case .mapping(let mapping) = node else {
            problem(node, path, "must be a mapping with name and xelion")
            return nil
        }
        let tenantFields = fields(mapping, path: path, allowed: ["name", "include_raw", "xelion", "webhooks"])
        var webhooks: [RelayConfiguration.WebhookEndpoint] = []
        if let node = tenantFields["webhooks"] {
            if case .sequence(let list) = node {
                for (index, item) in list.enumerated() {
                    if let endpoint = webhook(item, path: "\(path).webhooks[\(index)]") { webhooks.append(endpoint) }
                }
            } else {
                problem(node, "\(path).webhooks", "must be a list of endpoints, each with a url and a secret")
            }
        }
        let includeRaw = bool(tenantFields["include_raw"], path: "\(path).include_raw") ?? false
        let name = string(tenantFields["name"], path: "\(path).name")
        if let name, !name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }) {
            problem(tenantFields["name"], "\(path).name", "may hold only letters, digits, '-', '_' and '.'")
        }
        guard let xelionNode = tenantFields["xelion"] else {
            problem(node, "\(path).xelion", "is missing")
            return nil
        }
        guard case .mapping(let xelionMapping) = xelionNode else {
            problem(xelionNode, "\(path).xelion", "must be a mapping")
            return nil
        }
        let x = "\(path).xelion"
        let xelion = fields(
            xelionMapping,
            path: x,
            allowed: [
                "url", "username", "password_env", "password_file", "user_space", "app_key", "ca_file", "events", "time_zone",
            ]
        )
        var timeZone = TimeZone(secondsFromGMT: 0) ?? .gmt
        if let zoneName = string(xelion["time_zone"], path: "\(x).time_zone", required: false) {
            if let zone = TimeZone(identifier: zoneName) {
                timeZone = zone
            } else {
                problem(
                    xelion["time_zone"], "\(x).time_zone",
                    "unknown time zone '\(zoneName)'; use an IANA name such as Europe/Amsterdam or UTC")
            }
        }
        let url = string(xelion["url"], path: "\(x).url")
        if let url, !(url.hasPrefix("https://") || url.hasPrefix("http://")) || URL(string: url)?.host == nil {
            problem(xelion["url"], "\(x).url", "must be the PBX's REST base URL, such as https://pbx.example.com/api/v1/acme/")
        } else if let url, url.hasPrefix("http://"), !Self.isLoopback(url) {
            warning(xelion["url"], "\(x).url", "is http://: the PBX password and session tokens cross the network in clear")
        }
        let username = string(xelion["username"], path: "\(x).username")
        let password = readsSecrets ? secrets(xelion, node: xelionNode, path: x, name: "password", list: false)?.first : ""
        let userSpace = string(xelion["user_space"], path: "\(x).user_space", required: false) ?? name.map { "callrelay-\($0)" }
        if let userSpace, userSpace.count > 200 {
            problem(xelion["user_space"], "\(x).user_space", "must be at most 200 characters")
        }
        let appKey = string(xelion["app_key"], path: "\(x).app_key", required: false)
        let caFile = self.path(xelion["ca_file"], path: "\(x).ca_file", mustExist: true)
        var events = XelionCallEventType.allCases.map(\.rawValue)
        if let node = xelion["events"] {
            if case .sequence(let list) = node, !list.isEmpty {
                events = []
                for (index, item) in list.enumerated() {
                    guard let event = item.string, !event.isEmpty, event.allSatisfy({ $0.isLetter || $0.isNumber }) else {
                        problem(item, "\(x).events[\(index)]", "must be a notification type name such as callHungUpEvent")
                        continue
                    }
                    events.append(event)
                }
            } else {
                problem(node, "\(x).events", "must be a list of notification types")
            }
        }
        guard let name, let url, let username, let password, let userSpace else { return nil }
        let credentials = XelionCredentials(
            baseURL: url, userName: username, password: password, userSpace: userSpace, appKey: appKey)
        return .init(
            name: name, xelion: .init(credentials: credentials, caFile: caFile, events: events, timeZone: timeZone),
            includeRaw: includeRaw, webhooks: webhooks)
    }
}
