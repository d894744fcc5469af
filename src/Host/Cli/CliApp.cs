using System.CommandLine;

namespace Actorvisor.Host.Cli;

/// <summary>The `actorvisor` command line: builds the command tree and maps parse errors to exit code 2.</summary>
public static class CliApp
{
    /// <summary>The root command with every subcommand.</summary>
    public static RootCommand Build() => new("Actorvisor: an actor-based virtualization runtime (KVM or software accelerator)")
    {
        DemoCommand.Create(),
        RunCommand.Create(),
        BenchCommand.Create(),
        ScenarioCommand.Create(),
        Node.NodeCommand.Create(),
        VmCommand.Create(),
        ClusterCommand.Create(),
    };

    /// <summary>Parses and runs <paramref name="args"/>; returns the process exit code.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        var parse = Build().Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors) Console.Error.WriteLine($"actorvisor: {error.Message}");
            Console.Error.WriteLine("actorvisor: see 'actorvisor --help'");
            return ExitCodes.Usage;
        }
        return await parse.InvokeAsync();
    }
}
