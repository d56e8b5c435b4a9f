// `fleet`: the user's entry point. Subcommands launch fleets, plan multi-host runs and report.
import ArgumentParser

@main
struct FleetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet",
        abstract: "SparseFleet: simulate a fleet of 256 KB devices learning together with sparse updates.",
        subcommands: [RunCommand.self, PlanCommand.self, ReportCommand.self, ResumeCommand.self, CheckCommand.self,
                      DoctorCommand.self, KeysCommand.self, SubmitCommand.self, StatusCommand.self, CancelCommand.self,
                      FinishCommand.self],
        defaultSubcommand: DoctorCommand.self)
}
