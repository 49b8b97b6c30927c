/// A promo code as the admin made it, with its redemption count.
public struct PromoCode: Sendable, Equatable {
    public enum Discount: Sendable, Equatable {
        /// Hundredths of a percent: 10.00% is 1000.
        case percent(basisPoints: Int64)
        case amount(Money)
    }

    /// What POST and PUT set.
    public struct Fields: Sendable, Equatable {
        public var code: String
        public var discount: Discount
        public var minSubtotal: Money
        public var maxRedemptions: Int64?
        public var maxPerUser: Int64?
        public var startsAt: Timestamp?
        public var endsAt: Timestamp?

        public init(code: String, discount: Discount, minSubtotal: Money = .zero, maxRedemptions: Int64? = nil,
                    maxPerUser: Int64? = nil, startsAt: Timestamp? = nil, endsAt: Timestamp? = nil) {
            self.code = code
            self.discount = discount
            self.minSubtotal = minSubtotal
            self.maxRedemptions = maxRedemptions
            self.maxPerUser = maxPerUser
            self.startsAt = startsAt
            self.endsAt = endsAt
        }
    }

    public let id: Int64
    public var fields: Fields
    public var redemptions: Int64
    public let createdAt: Timestamp
    public var updatedAt: Timestamp

    /// 3..32 characters of [A-Za-z0-9_-].
    public static func isValidCode(_ code: String) -> Bool {
        let bytes = code.utf8
        return (3...32).contains(bytes.count) && bytes.allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
    }

    public static let limitRange: ClosedRange<Int64> = 1...1_000_000_000

    /// Within [starts_at, ends_at) at `now`; a missing bound is open.
    public func isActive(at now: Timestamp) -> Bool { fields.isActive(at: now) }
}

extension PromoCode.Fields {
    func isActive(at now: Timestamp) -> Bool {
        if let startsAt, now < startsAt { return false }
        if let endsAt, now >= endsAt { return false }
        return true
    }
}

/// A code as a cart or an order meets it: what it gives, and whether it may be used now.
public struct PromoCodeUse: Sendable, Equatable {
    public let id: Int64
    public let code: String
    public let fields: PromoCode.Fields
    public let deleted: Bool
    public let redemptions: Int64
    /// This user's non-cancelled orders with it.
    public let userRedemptions: Int64

    /// Live and within its dates.
    public func isValid(at now: Timestamp) -> Bool { !deleted && fields.isActive(at: now) }

    /// No redemption left, overall or for this user.
    public var isUsedUp: Bool {
        if let limit = fields.maxRedemptions, redemptions >= limit { return true }
        if let limit = fields.maxPerUser, userRedemptions >= limit { return true }
        return false
    }

    public func reachesMinimum(_ subtotal: Money) -> Bool { subtotal >= fields.minSubtotal }
}
