using System.Text;
using Actorvisor.Host.Api.V1;

namespace Actorvisor.Host.Cli;

/// <summary>
/// Owns the background thread of `vm console` that reads stdin (a terminal's lines or a pipe's bytes) and sends what it
/// reads to the VM as <see cref="SendConsoleInputRequest"/>s, until end of input, an error reply or the console's end.
/// </summary>
internal static class ConsoleInputForwarder
{
    // 1024 bytes of stdin decode to at most 1024 characters, at most 4096 bytes of UTF-8: one request's limit.
    private const int ReadBytes = ApiValidator.MaxConsoleInputBytes / 4;

    /// <summary>Starts forwarding <paramref name="input"/> through <paramref name="send"/> until <paramref name="ended"/> completes.</summary>
    public static void Start(Stream input, Func<string, Task<IApiReply>> send, Task ended)
    {
        var thread = new Thread(() => Forward(input, send, ended)) { Name = "console-input", IsBackground = true };
        thread.Start();
    }

    private static void Forward(Stream input, Func<string, Task<IApiReply>> send, Task ended)
    {
        var decoder = new UTF8Encoding(false).GetDecoder();
        var bytes = new byte[ReadBytes];
        var chars = new char[ReadBytes + 1];
        try
        {
            int n;
            while (!ended.IsCompleted && (n = input.Read(bytes)) > 0)
            {
                int count = decoder.GetChars(bytes, 0, n, chars, 0, flush: false);
                if (count == 0) continue;
                var pending = new string(chars, 0, count);
                while (pending.Length > 0 && !ended.IsCompleted)
                {
                    var reply = send(pending).GetAwaiter().GetResult();
                    if (reply is not ConsoleInputReply accepted)
                    {
                        Console.Error.WriteLine($"\n[actorvisor] console input not sent: {(reply as ApiErrorReply)?.Message ?? reply.GetType().Name}");
                        return;
                    }
                    if (accepted.AcceptedBytes >= accepted.SentBytes) break;
                    // The UART's receive queue is full: the guest reads it at its own pace; send the rest shortly.
                    pending = Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(pending)[accepted.AcceptedBytes..]);
                    ended.Wait(TimeSpan.FromMilliseconds(50));
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException or TimeoutException)
        {
            // Stdin closed or the client went away: nothing more to forward.
        }
    }
}
