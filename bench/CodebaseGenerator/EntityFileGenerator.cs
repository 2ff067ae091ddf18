using System;
using System.Collections.Generic;
using System.Linq;

namespace CodebaseGenerator;

/// <summary>Writes one file: status enum, row, DTO, filter, mapping, validator and a repository mixing data access with ordinary code.</summary>
internal sealed class EntityFileGenerator
{
    private readonly double _leakProbability;
    private int _leaksPlanted;

    public EntityFileGenerator(double leakProbability)
    {
        _leakProbability = leakProbability;
    }

    public void Write(GenerationContext c)
    {
        var e = c.Entity;
        var w = c.W;
        foreach (var ns in new[] { "System", "System.Collections.Generic", "System.Globalization", "System.Linq", "System.Text", "System.Threading", "System.Threading.Tasks", "Dapper", "MySqlConnector", "Shop.Infrastructure" })
        {
            w.Line($"using {ns};");
        }

        w.Line();
        w.Line($"namespace {e.Namespace};");
        w.Line();
        w.Line($"public enum {e.Status} {{ Draft = 0, Active = 1, Suspended = 2, Closed = 3, Archived = 4 }}");
        w.Line();
        WriteRow(c);
        w.Line();
        w.Line($"public sealed record {e.Dto}(");
        w.Line($"    long Id, string Name, decimal Amount, {e.Status} Status, DateTime CreatedAt, DateTime? UpdatedAt,");
        w.Line("    " + string.Join(", ", e.Extras.Select(x => x.Type + " " + x.Name)) + ");");

        w.Line();
        w.Line($"public sealed record {e.Filter}(string? NameStartsWith, {e.Status}? Status, decimal? MinAmount, DateTime? CreatedAfter, int Page = 1, int PageSize = 50);");
        w.Line();
        WriteMapping(c);
        w.Line();
        WriteValidator(c);
        w.Line();
        WriteRepository(c);
    }

    public int LeaksPlanted => _leaksPlanted;

    private static void WriteRow(GenerationContext c)
    {
        var e = c.Entity;
        var w = c.W;
        w.Open($"public sealed class {e.Row}");
        w.Line("public long Id { get; init; }");
        w.Line("public string TenantId { get; init; } = \"\";");
        w.Line("public string Name { get; init; } = \"\";");
        w.Line("public decimal Amount { get; init; }");
        w.Line("public int Status { get; init; }");
        w.Line("public DateTime CreatedAt { get; init; }");
        w.Line("public DateTime? UpdatedAt { get; init; }");
        foreach (var extra in e.Extras)
        {
            w.Line($"public {extra.Type} {extra.Name} {{ get; init; }}{extra.Initializer}");
        }

        w.Close();
    }

    private static void WriteMapping(GenerationContext c)
    {
        var e = c.Entity;
        var w = c.W;
        w.Open($"public static class {e.Mapping}");
        w.Line($"public static {e.Dto} ToDto({e.Row} row) =>");
        w.Line($"    new(row.Id, row.Name, row.Amount, ({e.Status})row.Status, row.CreatedAt, row.UpdatedAt, "
            + string.Join(", ", e.Extras.Select(x => "row." + x.Name)) + ");");

        w.Line();
        w.Line($"public static {e.Row} ToRow({e.Dto} dto, string tenantId) =>");
        w.Line("    new()");
        w.Line("    {");
        w.Line("        Id = dto.Id, TenantId = tenantId, Name = dto.Name, Amount = dto.Amount, Status = (int)dto.Status,");
        w.Line("        CreatedAt = dto.CreatedAt, UpdatedAt = dto.UpdatedAt, " + string.Join(", ", e.Extras.Select(x => $"{x.Name} = dto.{x.Name}")) + ",");
        w.Line("    };");
        w.Line();
        w.Line($"public static string StatusLabel({e.Status} status) =>");
        w.Line("    status switch");
        w.Line("    {");
        w.Line($"        {e.Status}.Draft => \"Draft\",");
        w.Line($"        {e.Status}.Active => \"Active\",");
        w.Line($"        {e.Status}.Suspended => \"On hold\",");
        w.Line($"        {e.Status}.Closed => \"Closed\",");
        w.Line($"        {e.Status}.Archived => \"Archived\",");
        w.Line("        _ => status.ToString(),");
        w.Line("    };");
        w.Line();
        w.Line($"public static string ToCsvLine({e.Dto} dto) =>");
        w.Line("    string.Join(',', dto.Id.ToString(CultureInfo.InvariantCulture), Quote(dto.Name), dto.Amount.ToString(CultureInfo.InvariantCulture), StatusLabel(dto.Status), dto.CreatedAt.ToString(\"O\", CultureInfo.InvariantCulture));");
        w.Line();
        w.Line("private static string Quote(string value) =>");
        w.Line("    value.Contains(',') || value.Contains('\"') ? \"\\\"\" + value.Replace(\"\\\"\", \"\\\"\\\"\") + \"\\\"\" : value;");
        w.Close();
        c.OrdinaryMethods += 5;
    }

    private static void WriteValidator(GenerationContext c)
    {
        var e = c.Entity;
        var w = c.W;
        w.Open($"public sealed class {e.Validator}");
        w.Line("private const int MaxNameLength = 120;");
        w.Line();
        w.Open($"public IReadOnlyList<string> Validate({e.Dto} dto)");
        w.Line("var errors = new List<string>();");
        w.Line("var name = dto.Name.Trim();");
        w.Open("if (name.Length == 0)");
        w.Line("errors.Add(\"Name is required.\");");
        w.Close();
        w.Open("else if (name.Length > MaxNameLength)");
        w.Line("errors.Add($\"Name is longer than {MaxNameLength} characters.\");");
        w.Close();
        w.Line();
        w.Open("if (dto.Amount < 0)");
        w.Line("errors.Add(\"Amount cannot be negative.\");");
        w.Close();
        w.Line();
        w.Open("if (dto.UpdatedAt is { } updated && updated < dto.CreatedAt)");
        w.Line("errors.Add(\"UpdatedAt is before CreatedAt.\");");
        w.Close();
        foreach (var extra in e.Extras.Where(x => x.Validation is not null))
        {
            w.Line();
            w.Line(extra.Validation!);
        }

        w.Line();
        w.Line("return errors;");
        w.Close();
        w.Line();
        w.Line($"public bool IsValid({e.Dto} dto) => Validate(dto).Count == 0;");
        w.Close();
        c.OrdinaryMethods += 2;
    }

    private void WriteRepository(GenerationContext c)
    {
        var e = c.Entity;
        var w = c.W;
        var random = c.Random;

        // About a quarter of all methods in a file do data access: 3.5 of ~13.5 on average.
        var slots = new List<string?>();
        var dataAccessCount = random.Next(3, 5);
        for (var i = 0; i < dataAccessCount; i++)
        {
            slots.Add(null);
        }

        slots.AddRange(OrdinaryCode.RepositoryHelpers.OrderBy(_ => random.Next()).Take(random.Next(3, 6)));
        slots = slots.OrderBy(_ => random.Next()).ToList();

        w.Open($"public sealed class {e.Repository}");
        w.Line("private readonly MySqlDataSource _dataSource;");
        w.Line("private readonly string _connectionString;");
        w.Line("private readonly TenantPool _pool;");
        w.Line("private readonly string _tenantId;");
        w.Line();
        w.Open($"public {e.Repository}(MySqlDataSource dataSource, string connectionString, TenantPool pool, string tenantId)");
        w.Line("_dataSource = dataSource;");
        w.Line("_connectionString = connectionString;");
        w.Line("_pool = pool;");
        w.Line("_tenantId = tenantId;");
        w.Close();
        foreach (var slot in slots)
        {
            if (slot is not null)
            {
                w.Line();
                OrdinaryCode.Emit(c, slot);
                c.OrdinaryMethods += OrdinaryCode.MethodCount(slot);
            }
            else if (random.NextDouble() < _leakProbability)
            {
                var (shape, emit) = LeakyDataAccess.Templates[_leaksPlanted % LeakyDataAccess.Templates.Length];
                emit(c, shape);
                c.DataAccessMethods++;
                _leaksPlanted++;
            }
            else
            {
                PickWeighted(random)(c);
            }
        }

        w.Close();
    }

    private static Action<GenerationContext> PickWeighted(Random random)
    {
        var total = CorrectDataAccess.Templates.Sum(t => t.Weight);
        var pick = random.Next(total);
        foreach (var (weight, emit) in CorrectDataAccess.Templates)
        {
            if (pick < weight)
            {
                return emit;
            }

            pick -= weight;
        }

        throw new InvalidOperationException("Weights do not add up.");
    }
}
