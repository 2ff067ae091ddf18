using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;

namespace TenantDbGuard.Bench;

/// <summary>Console output: the machine the numbers come from, and tables that paste into Markdown as they are.</summary>
internal static class BenchReport
{
    public static void PrintMachine()
    {
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores ({CpuModel()}), {RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription}");
        Console.WriteLine($"load average at start: {LoadAverage()}");
    }

    /// <summary>The 1, 5 and 15 minute load averages (Linux), to tell a quiet machine from a busy one.</summary>
    public static string LoadAverage()
    {
        try
        {
            var fields = File.ReadAllText("/proc/loadavg").Split(' ');
            return string.Join(' ', fields.Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
        catch (UnauthorizedAccessException)
        {
            return "unknown";
        }
    }

    /// <summary>Prints a Markdown table with padded columns; numbers are right-aligned.</summary>
    public static void PrintTable(string[] headers, IEnumerable<string[]> rows)
    {
        var all = rows.ToList();
        var widths = headers.Select((h, i) => Math.Max(h.Length, all.Count == 0 ? 0 : all.Max(r => r[i].Length))).ToArray();
        var numeric = headers.Select((_, i) => all.Count > 0 && all.All(r => IsNumeric(r[i]))).ToArray();
        Console.WriteLine("| " + string.Join(" | ", headers.Select((h, i) => h.PadRight(widths[i]))) + " |");
        Console.WriteLine("|" + string.Join("|", widths.Select((w, i) => numeric[i] ? new string('-', w + 1) + ":" : new string('-', w + 2))) + "|");
        foreach (var row in all)
        {
            Console.WriteLine("| " + string.Join(" | ", row.Select((c, i) => numeric[i] ? c.PadLeft(widths[i]) : c.PadRight(widths[i]))) + " |");
        }
    }

    private static bool IsNumeric(string cell) =>
        cell.Length > 0 && (char.IsDigit(cell[0]) || cell[0] is '-' or '+') && cell.All(c => char.IsDigit(c) || c is ',' or '.' or ' ' or '%' or '-' or '+' or 'x');

    private static string CpuModel()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line is null ? RuntimeInformation.ProcessArchitecture.ToString() : line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException)
        {
            return RuntimeInformation.ProcessArchitecture.ToString();
        }
        catch (UnauthorizedAccessException)
        {
            return RuntimeInformation.ProcessArchitecture.ToString();
        }
    }
}
