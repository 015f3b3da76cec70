import CYaml

/// Rejects YAML alias bombs before Yams composes the tree.
///
/// Composing resolves every alias into a copy of its anchored node, so a few hundred bytes of nested
/// aliases ("billion laughs") expand into a tree that the parser then walks element by element, and an
/// alias used as a mapping *key* makes the YAML library hash that whole tree for its duplicate-key
/// check, which never finishes. This guard reads libyaml's event stream (the same parser Yams uses,
/// without composing), sums the size every node would have once expanded, and stops at the first alias
/// in a key position or the first node past `expandedNodesMax`, with the alias's position. Scenario
/// files that use anchors for what they are for (one partition or link list reused a few times) pass.
enum YAMLAliasGuard {
    /// Nodes (scalars, sequences, mappings) a scenario may expand to; the largest shipped scenario
    /// has a few hundred.
    static let expandedNodesMax = 100_000

    struct Problem: Equatable {
        var line: Int
        var column: Int
        var message: String
    }

    private struct Frame {
        var mapping: Bool
        var keyNext: Bool
        var size: Int
        var anchor: String?
    }

    /// The first alias problem in `text`, or nil (including when the text is not valid YAML: Yams then
    /// reports the syntax error with its own position).
    static func check(_ text: String) -> Problem? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return nil }
        defer { yaml_parser_delete(&parser) }
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBufferPointer { buffer -> Problem? in
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var anchors: [String: Int] = [:]
            var stack: [Frame] = []
            var event = yaml_event_t()
            while true {
                guard yaml_parser_parse(&parser, &event) == 1 else { return nil }
                defer { yaml_event_delete(&event) }
                let line = Int(event.start_mark.line) + 1, column = Int(event.start_mark.column) + 1
                func string(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? {
                    p.map { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
                }
                // A finished node of `size` expanded nodes: counts towards its parent (and the anchor).
                func finish(_ size: Int, anchor: String?) -> Problem? {
                    if let anchor { anchors[anchor] = size }
                    guard !stack.isEmpty else { return nil }
                    stack[stack.count - 1].size += size
                    if stack[stack.count - 1].mapping { stack[stack.count - 1].keyNext.toggle() }
                    if stack[stack.count - 1].size > expandedNodesMax {
                        return Problem(line: line, column: column, message: "aliases expand this document past "
                                       + "\(expandedNodesMax) nodes; a scenario needs far fewer (write the values out, or alias less)")
                    }
                    return nil
                }
                let inKeyPosition = stack.last.map { $0.mapping && $0.keyNext } ?? false
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return nil
                case YAML_ALIAS_EVENT:
                    let name = string(event.data.alias.anchor) ?? ""
                    if inKeyPosition {
                        return Problem(line: line, column: column,
                                       message: "the alias *\(name) is used as a mapping key; scenario keys are plain names")
                    }
                    if let problem = finish(anchors[name] ?? 1, anchor: nil) { return problem }
                case YAML_SCALAR_EVENT:
                    if let problem = finish(1, anchor: string(event.data.scalar.anchor)) { return problem }
                case YAML_SEQUENCE_START_EVENT:
                    stack.append(Frame(mapping: false, keyNext: false, size: 1, anchor: string(event.data.sequence_start.anchor)))
                case YAML_MAPPING_START_EVENT:
                    stack.append(Frame(mapping: true, keyNext: true, size: 1, anchor: string(event.data.mapping_start.anchor)))
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    guard let frame = stack.popLast() else { return nil }
                    if let problem = finish(frame.size, anchor: frame.anchor) { return problem }
                default:
                    continue
                }
            }
        }
    }
}
