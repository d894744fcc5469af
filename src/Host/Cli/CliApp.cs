using System.CommandLine;

namespace Actorvisor.Host.Cli;

/// <summary>The `actorvisor` command line: builds the command tree and maps parse errors to exit code 2.</summary>
public static class CliApp
{
    /// <summary>Each top-level command's name and how to build it (a test checks the names match the commands).</summary>
    internal static readonly (string Name, Func<Command> Create)[] Commands =
    [
        ("demo", DemoCommand.Create),
        ("run", RunCommand.Create),
        ("bench", BenchCommand.Create),
        ("scenario", () => ScenarioCommand.Create()),
        ("node", Node.NodeCommand.Create),
        ("vm", VmCommand.Create),
        ("cluster", ClusterCommand.Create),
    ];

    /// <summary>The root command with every subcommand.</summary>
    public static RootCommand Build() => Build(null);

    /// <summary>
    /// The root command for a command line whose first word is <paramref name="first"/>: only that command's tree when
    /// it names one (a CLI command run many times a minute builds none of the others' options, e.g. the node's or the
    /// benches'), every command otherwise (root help, a mistyped command, no command).
    /// </summary>
    public static RootCommand Build(string? first)
    {
        var root = new RootCommand("Actorvisor: an actor-based virtualization runtime (KVM or software accelerator)");
        var named = Commands.Where(c => c.Name == first).ToList();
        foreach (var (_, create) in named.Count == 1 ? named : [.. Commands]) root.Subcommands.Add(create());
        return root;
    }

    /// <summary>Parses and runs <paramref name="args"/>; returns the process exit code.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var parse = Build(args.Length > 0 ? args[0] : null).Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors) Console.Error.WriteLine($"actorvisor: {error.Message}");
            Console.Error.WriteLine("actorvisor: see 'actorvisor --help'");
            return ExitCodes.Usage;
        }
        return await parse.InvokeAsync();
    }
}
