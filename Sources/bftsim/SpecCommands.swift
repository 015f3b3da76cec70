import ArgumentParser
import Foundation
import Fuzzing
import Runner

/// `bftsim spec`: the SPIN models of Specs/ (check them; turn their counterexamples into scenarios).
struct SpecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spec",
        abstract: "SPIN-check the formal models in Specs/ and replay their counterexamples as scenarios.",
        subcommands: [SpecCheckCommand.self, SpecTrailCommand.self])
}

/// The repository root: the nearest directory above the working directory holding Specs/pbft.pml.
func specRoot(_ given: String?) -> String {
    if let given { return given }
    var dir = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    while dir.path != "/" {
        if FileManager.default.fileExists(atPath: dir.appendingPathComponent("Specs/pbft.pml").path) { return dir.path }
        dir = dir.deletingLastPathComponent()
    }
    return FileManager.default.currentDirectoryPath
}

struct SpecCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Verify every model and mutant switch with SPIN; print model, switch, expected, verdict, states, depth, memory, time.",
        discussion: "Exits 1 when a verdict is unexpected (an honest model violated, or a mutant not caught), 3 when spin or gcc is missing.")
    @Option(help: "Repository root (default: found from the working directory).") var root: String?
    @Option(help: "Only this model (pbft or hotstuff).") var model: SpecModel?
    @Option(help: "Work directory for pan.c and binaries.") var work: String = "out/spec"
    @Option(help: "Where counterexample trails are copied.") var trails: String = "out/spec/trails"

    func run() throws {
        guard SpecChecker.toolsAvailable else {
            throw fail("spin or gcc is not on PATH; run scripts/setup.sh", code: .invalidInput)
        }
        let root = specRoot(self.root)
        var results: [SpecResult] = []
        for c in SpecConfiguration.all where model == nil || c.model == model {
            do {
                let r = try SpecChecker.check(c, root: root, work: work, trailDirectory: trails)
                results.append(r)
                FileHandle.standardError.write(Data("spec: \(c.model.rawValue) \(c.switchLabel): \(r.violated ? "violated" : "verified")\(r.asExpected ? "" : " (UNEXPECTED)")\n".utf8))
            } catch {
                throw fail("\(error)", code: .internalError)
            }
        }
        print(SpecChecker.table(results))
        let bad = results.filter { !$0.asExpected }
        print("\(results.count) configurations, \(bad.count) unexpected; trails in \(trails)/")
        if !bad.isEmpty { throw ExitCode(1) }
    }
}

struct SpecTrailCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trail",
        abstract: "Turn a SPIN trail into a scenario file that replays the violation with `bftsim run OUT --mutant NAME`.")
    @Argument(help: "The .trail file pan wrote.") var file: String
    @Option(help: "pbft or hotstuff.") var model: SpecModel
    @Option(help: "The mutant switch the trail was found with (a TestMutant name), omitted for the honest model.") var mutant: String?
    @Flag(help: "HotStuff: the two-chain (Jolteon) model.") var twoChain = false
    @Option(name: .shortAndLong, help: "Output scenario file.") var out: String = "out.yaml"
    @Option(help: "Repository root (default: found from the working directory).") var root: String?

    func run() throws {
        guard let c = SpecConfiguration.find(model: model, mutant: mutant, twoChain: twoChain) else {
            let names = SpecConfiguration.all.filter { $0.model == model }.map(\.name)
            throw fail("no \(model.rawValue) configuration '\(mutant ?? "honest")'\(twoChain ? " (two-chain)" : ""); known: \(Array(Set(names)).sorted().joined(separator: ", "))", code: .invalidInput)
        }
        guard FileManager.default.fileExists(atPath: file) else { throw fail("\(file): no such trail", code: .invalidInput) }
        let events = try invalidInput { try SpecChecker.events(trail: file, configuration: c, root: specRoot(root), work: "out/spec") }
        let yaml = SpecTrail.scenario(events: events, configuration: c)
        do { try yaml.write(toFile: out, atomically: true, encoding: .utf8) } catch { throw fail("cannot write \(out): \(error)", code: .invalidInput) }
        print("wrote \(out) (\(events.count) model events); replay: bftsim run \(out)\(c.mutant.map { " --mutant \($0.rawValue)" } ?? "")")
    }
}

extension SpecModel: ExpressibleByArgument {}
