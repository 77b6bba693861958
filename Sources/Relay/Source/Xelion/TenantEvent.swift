import Foundation
import Xelion

/// A call event as a tenant's source hands it downstream.
public struct TenantEvent: Sendable, Equatable {
    public var tenant: String
    public var receivedAt: Date
    public var event: XelionCallEvent

    public init(tenant: String, receivedAt: Date, event: XelionCallEvent) {
        self.tenant = tenant
        self.receivedAt = receivedAt
        self.event = event
    }
}
