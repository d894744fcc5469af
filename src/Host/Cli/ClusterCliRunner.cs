using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using Actorvisor.Host.Api.Client;
using Actorvisor.Host.Api.V1;
using Spectre.Console;

namespace Actorvisor.Host.Cli;

/// <summary>
/// Runs one cluster client command: resolves the connection options (bad ones: exit 2), connects, runs the
/// command, and turns the outcome into an exit code: 0 success, 1 the operation failed (an API error or no
/// answer), 2 bad usage (including a request the API refuses as invalid).
/// </summary>
public static class ClusterCliRunner
{
    /// <summary>The operation failed: the cluster refused it or did not answer.</summary>
    public const int OperationFailed = 1;

    /// <summary>JSON as the CLI prints it: indented, camelCase, enums as names.</summary>
    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>JSON on one line, for streams.</summary>
    public static readonly JsonSerializerOptions JsonLine = new(Json) { WriteIndented = false };

    /// <summary>Resolves <paramref name="connection"/>, connects and runs <paramref name="body"/>.</summary>
    public static async Task<int> RunAsync(ParseResult parse, ClusterConnectionOptions connection, Func<ApiClient, bool, Task<int>> body)
    {
        if (!connection.TryResolve(parse, out var options, out var error))
        {
            Console.Error.WriteLine($"actorvisor: {error}");
            return ExitCodes.Usage;
        }
        var json = parse.GetValue(connection.Json);
        try
        {
            await using var client = ApiClient.Connect(options);
            return await body(client, json).ConfigureAwait(false);
        }
        catch (ApiUnavailableException e)
        {
            if (json) Console.WriteLine(JsonSerializer.Serialize(new { error = "Unavailable", message = e.Message }, Json));
            else Console.Error.WriteLine($"actorvisor: {e.Message}");
            return OperationFailed;
        }
    }

    /// <summary>Prints an error reply (JSON on stdout, or a line on stderr) and returns its exit code.</summary>
    public static int Fail(ApiErrorReply error, bool json)
    {
        if (json) Console.WriteLine(JsonSerializer.Serialize(error, Json));
        else Console.Error.WriteLine($"actorvisor: {error.Code}: {error.Message}");
        return error.Code == ApiErrorCode.InvalidRequest ? ExitCodes.Usage : OperationFailed;
    }

    /// <summary>Prints a reply: JSON, or <paramref name="human"/>; errors via <see cref="Fail"/>.</summary>
    public static int Print<T>(IApiReply reply, bool json, Action<T> human) where T : IApiReply
    {
        switch (reply)
        {
            case ApiErrorReply error:
                return Fail(error, json);
            case T ok:
                if (json) Console.WriteLine(JsonSerializer.Serialize(ok, Json));
                else human(ok);
                return ExitCodes.Ok;
            default:
                Console.Error.WriteLine($"actorvisor: unexpected reply {reply.GetType().Name}");
                return OperationFailed;
        }
    }

    /// <summary>Runs <paramref name="work"/> under a spinner when a person watches the terminal.</summary>
    public static async Task<T> WithProgress<T>(bool json, string what, Func<Task<T>> work)
    {
        if (json || Console.IsOutputRedirected || !AnsiConsole.Profile.Capabilities.Interactive) return await work().ConfigureAwait(false);
        return await AnsiConsole.Status().Spinner(Spinner.Known.Dots).StartAsync(what, _ => work()).ConfigureAwait(false);
    }

    /// <summary>"64 MiB", "1.5 GiB".</summary>
    public static string Size(ulong bytes) => ByteSize.Print(bytes);

    /// <summary>Names the nodes that did not answer in time (nothing when every node did); <paramref name="consequence"/> says what that leaves out.</summary>
    public static void PrintUnanswered(IReadOnlyList<string>? nodes, string consequence) => VmTables.PrintUnanswered(nodes, consequence);
}
