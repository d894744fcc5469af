using Actorvisor.Host.Cli;

CliTiming.MainEntered();
// `vm list` / `vm describe` through a node's HTTP API start here, before the command tree is built (QuickVmCommandLine).
if (QuickVmCommandLine.Recognize(args) is { } quick) return await quick.RunAsync();
return await CliApp.RunAsync(args);
