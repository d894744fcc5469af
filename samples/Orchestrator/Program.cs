using Actorvisor.Host.Api.Client;

namespace Actorvisor.Samples.Orchestrator;

/// <summary>The sample's entry point: parses the options, connects, runs the fleet. Exit 0 when it ran, 1 when the cluster failed it, 2 on bad options.</summary>
internal static class Program
{
    private static async Task<int> Main(string[] args)
    {
        OrchestratorOptions options;
        try
        {
            options = OrchestratorOptions.Parse(args);
        }
        catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"actorvisor-orchestrator: {e.Message}");
            Console.Error.WriteLine(OrchestratorOptions.Usage);
            return 2;
        }
        using var interrupted = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            interrupted.Cancel();
        };
        await using var client = ApiClient.Connect(options.Client);
        try
        {
            return await new FleetOrchestrator(client, options, Console.Out).RunAsync(interrupted.Token);
        }
        catch (ApiUnavailableException e)
        {
            Console.Error.WriteLine($"actorvisor-orchestrator: {e.Message}");
            return 1;
        }
        catch (OperationCanceledException) when (interrupted.IsCancellationRequested)
        {
            Console.Error.WriteLine("actorvisor-orchestrator: interrupted; the fleet is left as it is");
            return 1;
        }
    }
}
