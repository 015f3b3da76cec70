/// A double-quoted string with backslash escapes, the form JSON strings and YAML's double-quoted
/// scalars share: `"` `\` newline, carriage return and tab by their short escapes, every other control
/// character (and whatever `alsoEscaping` names) as `\uXXXX` in lowercase hex.
public enum QuotedString {
    public static func quote(_ s: String, alsoEscaping: (Unicode.Scalar) -> Bool = { _ in false }) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || alsoEscaping(scalar):
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
