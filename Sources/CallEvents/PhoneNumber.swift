/// Phone numbers in E.164, derived only where the text leaves no doubt.
public enum PhoneNumber {
    /// `+31 20 123 4567`, `+31-20-1234567`, `0031201234567` → `+31201234567`. A national number
    /// (`020 1234567`) or anything else that needs a country guess gives nil: the original is kept in
    /// `number` either way.
    public static func e164(_ text: String) -> String? {
        var digits: [UInt8] = [UInt8(ascii: "+")]
        var sawPlus = false
        for (index, byte) in text.utf8.enumerated() {
            switch byte {
            case UInt8(ascii: "+") where index == 0: sawPlus = true
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digits.append(byte)
            case UInt8(ascii: " "), UInt8(ascii: "-"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "."): continue
            default: return nil
            }
            guard digits.count <= 18 else { return nil }
        }
        if !sawPlus {
            guard digits.count > 3, digits[1] == UInt8(ascii: "0"), digits[2] == UInt8(ascii: "0") else { return nil }
            digits.removeSubrange(1...2)
        }
        guard (9...16).contains(digits.count), digits[1] != UInt8(ascii: "0") else { return nil }
        return String(decoding: digits, as: UTF8.self)
    }
}
