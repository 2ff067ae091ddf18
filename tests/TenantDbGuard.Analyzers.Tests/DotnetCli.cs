using System.Diagnostics;
using System.Text;

namespace TenantDbGuard.Analyzers.Tests;

/// <summary>What a <c>dotnet</c> command printed and how it ended.</summary>
internal sealed record CommandResult(string CommandLine, int ExitCode, string Output, TimeSpan Elapsed)
{
    /// <summary>The command, its exit code and its output, for assertion messages.</summary>
    public override string ToString() =>
        $"> {CommandLine}\nexit code {ExitCode} after {Elapsed.TotalSeconds:F0} s\n{Output}";
}

/// <summary>Runs the <c>dotnet</c> CLI as a user would. Shared with TenantDbGuard.Packaging.Tests.</summary>
internal static class DotnetCli
{
    /// <summary>Generous: builds run on a busy two-core machine.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(10);

    /// <summary>Runs <c>dotnet</c> with <paramref name="arguments"/> and <see cref="DefaultTimeout"/>.</summary>
    public static Task<CommandResult> RunAsync(string workingDirectory, params string[] arguments) =>
        RunAsync(workingDirectory, DefaultTimeout, arguments);

    /// <summary>Runs <c>dotnet</c> with <paramref name="arguments"/>; throws <see cref="TimeoutException"/>, with the
    /// output so far, when it runs longer than <paramref name="timeout"/>.</summary>
    public static async Task<CommandResult> RunAsync(string workingDirectory, TimeSpan timeout, params string[] arguments)
    {
        var startInfo = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        startInfo.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        startInfo.Environment["DOTNET_NOLOGO"] = "1";
        startInfo.Environment["DOTNET_CLI_UI_LANGUAGE"] = "en";
        // No MSBuild node outlives the command.
        startInfo.Environment["MSBUILDDISABLENODEREUSE"] = "1";

        var output = new StringBuilder();
        using var process = new Process { StartInfo = startInfo };
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);

        var commandLine = "dotnet " + string.Join(" ", arguments);
        var stopwatch = Stopwatch.StartNew();
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var cancellation = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancellation.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"'{commandLine}' did not finish within {timeout}:\n{Snapshot(output)}");
        }

        // The parameterless wait also drains the redirected streams.
        process.WaitForExit();
        return new CommandResult(commandLine, process.ExitCode, Snapshot(output), stopwatch.Elapsed);
    }

    /// <summary>
    /// Deletes a folder that dotnet commands worked in. A build server that still holds a file there leaves the folder
    /// behind, which is harmless for the temporary and git-ignored folders the tests use.
    /// </summary>
    public static void DeleteWorkFolder(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            output.AppendLine(line);
        }
    }

    private static string Snapshot(StringBuilder output)
    {
        lock (output)
        {
            return output.ToString();
        }
    }
}
