/// Keyset pagination: `?limit=` (1..100, default 20) and `?after=` (an id; 0 = from the start).
struct PageRequest {
    let limit: Int64
    let after: Int64

    init(_ request: Request) throws {
        if let text = request.queryValue("limit") {
            guard let value = Int64(text), (1...100).contains(value), text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                throw HTTPError.validation("limit", "limit must be a whole number from 1 to 100.")
            }
            limit = value
        } else {
            limit = 20
        }
        if let text = request.queryValue("after") {
            guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                throw HTTPError.validation("after", "after must be an id (a whole number, 0 or more).")
            }
            // An id beyond Int64 is still an id: nothing comes after it.
            after = Int64(text) ?? Int64.max
        } else {
            after = 0
        }
    }

    /// `{"items": [...], "next_after": id|null}` from up to limit+1 fetched items.
    func body(_ items: [JSONValue], ids: [Int64]) -> JSONValue {
        let hasMore = items.count > Int(limit)
        let page = hasMore ? Array(items.prefix(Int(limit))) : items
        let nextAfter: JSONValue = hasMore ? .number(String(ids[Int(limit) - 1])) : .null
        return .object([("items", .array(page)), ("next_after", nextAfter)])
    }
}
