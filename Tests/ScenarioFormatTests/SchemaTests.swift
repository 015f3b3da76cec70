import BFTCore
import Foundation
import ScenarioFormat
import Testing

/// `Scenarios/scenario.schema.json`, found from this file's location in the repository.
private func loadSchema() throws -> [String: Any] {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let data = try Data(contentsOf: root.appendingPathComponent("Scenarios/scenario.schema.json"))
    return try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
}

private func propertyNames(_ object: Any?) -> Set<String> {
    Set(((object as? [String: Any])?["properties"] as? [String: Any])?.keys.map { $0 } ?? [])
}

private func property(_ object: Any?, _ name: String) -> [String: Any]? {
    ((object as? [String: Any])?["properties"] as? [String: Any])?[name] as? [String: Any]
}

@Suite("scenario JSON Schema")
struct SchemaTests {
    @Test("schema: valid JSON, draft 2020-12, listing exactly the keys the parser accepts")
    func topLevelKeys() throws {
        // Proves the editor schema and the parser cannot drift apart at the top level.
        let schema = try loadSchema()
        #expect(schema["$schema"] as? String == "https://json-schema.org/draft/2020-12/schema")
        #expect(schema["additionalProperties"] as? Bool == false)
        #expect(propertyNames(schema) == Set(ScenarioKeys.topLevel))
        #expect(Set(schema["required"] as? [String] ?? []) == Set(ScenarioKeys.required))
    }

    @Test("schema: every nested section lists exactly the parser's keys")
    func nestedKeys() throws {
        // Proves the nested key lists match too, so editor validation agrees with `bftsim validate`.
        let schema = try loadSchema()
        let defs = schema["$defs"] as? [String: Any]
        #expect(propertyNames(property(schema, "stop")) == Set(ScenarioKeys.stop))
        #expect(propertyNames(property(schema, "network")) == Set(ScenarioKeys.network))
        #expect(propertyNames(property(schema, "workload")) == Set(ScenarioKeys.workload))
        #expect(propertyNames(property(schema, "parameters")) == Set(ScenarioKeys.parameters))
        #expect(propertyNames(property(schema, "liveness")) == Set(ScenarioKeys.liveness))
        #expect(propertyNames(property(schema, "expect")) == Set(ScenarioKeys.expect))
        #expect(propertyNames(property(property(schema, "network"), "links")?["items"]) == Set(ScenarioKeys.link))
        #expect(propertyNames(property(schema, "byzantine")?["items"]) == Set(ScenarioKeys.byzantine))
        let event = defs?["timelineEvent"]
        #expect(propertyNames(event) == Set(["at"] + ScenarioKeys.timelineActions))
        #expect(propertyNames(property(event, "cut_link")) == Set(ScenarioKeys.cutLink))
        #expect(propertyNames(property(event, "set_latency")) == Set(ScenarioKeys.setLatency))
        #expect(propertyNames(property(event, "set_loss")) == Set(ScenarioKeys.setLoss))
        #expect(propertyNames(property(event, "message_fault")) == Set(ScenarioKeys.messageFault))
        #expect(propertyNames(property(schema, "twins")) == Set(ScenarioKeys.twins))
        let behaviours = property(property(schema, "byzantine")?["items"], "behaviour")?["enum"] as? [String]
        #expect(behaviours == ByzantineSpec.knownBehaviours)
        let variants = ((defs?["latency"] as? [String: Any])?["anyOf"] as? [[String: Any]] ?? []).dropFirst()
        for (variant, expected) in zip(variants, ScenarioKeys.latencyDistributions) {
            #expect(propertyNames(variant) == Set(["distribution"] + expected.parameters))
            #expect(property(variant, "distribution")?["const"] as? String == expected.name)
        }
        #expect(variants.count == ScenarioKeys.latencyDistributions.count)
    }
}

@Suite("scenario format reference")
struct ReferenceTests {
    @Test("reference: the example in Scenarios/README.md parses")
    func readmeExample() throws {
        // Proves the documentation's example is a valid scenario, so a reader can copy it.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("Scenarios/README.md"), encoding: .utf8)
        let afterExample = try #require(readme.components(separatedBy: "## Example").last)
        let block = try #require(afterExample.components(separatedBy: "```yaml\n").dropFirst().first?.components(separatedBy: "```").first)
        let scenario = try ScenarioLoader.parse(block, file: "README.md")
        #expect(scenario.name == "primary-crash")
        #expect(scenario.timeline == [TimelineEvent(at: nanosPerSecond, action: .crash(replica: 0))])
    }
}
