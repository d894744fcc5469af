using Actorvisor.Host.Cli;

return await CliApp.RunAsync(args);
