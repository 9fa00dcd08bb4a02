package memkvext

import (
	"testing"
)

func TestParseCSVTable(t *testing.T) {
	service := []string{"service"}
	composite := []string{"service", "env"}
	// Cells of invalid inputs contain "s3cr3t": errors must never show values.
	tests := []struct {
		name    string
		cfg     CSVConfig
		in      string
		want    map[string]string
		wantErr string
	}{
		{
			name: "default key column, every other column a string field",
			in:   "Key,team,owner\ncheckout,payments,alice\ncart,web,bob\n",
			want: map[string]string{"checkout": `{"team":"payments","owner":"alice"}`, "cart": `{"team":"web","owner":"bob"}`},
		},
		{
			name: "key column anywhere, fields in column order",
			cfg:  CSVConfig{KeyColumns: service},
			in:   "team,service,owner\npayments,checkout,alice\n",
			want: map[string]string{"checkout": `{"team":"payments","owner":"alice"}`},
		},
		{
			name: "quoted fields: separators, quotes, newlines, escapes",
			cfg:  CSVConfig{KeyColumns: service},
			in:   "service,team,owner,note\n\"check,out\",\"Payments, EU\",\"al\"\"ice\",\"line1\nline2\ttab \\ back\"\n",
			want: map[string]string{"check,out": `{"team":"Payments, EU","owner":"al\"ice","note":"line1\nline2\ttab \\ back"}`},
		},
		{
			name: "non-ASCII and invalid UTF-8 strings",
			cfg:  CSVConfig{KeyColumns: service},
			in:   "service,city\nzürich,Zürich\nbad,\xff\n",
			want: map[string]string{"zürich": `{"city":"Zürich"}`, "bad": `{"city":"\ufffd"}`},
		},
		{
			name: "composite key joined with the default separator",
			cfg:  CSVConfig{KeyColumns: composite},
			in:   "service,env,team\ncheckout,prod,payments\ncheckout,dev,payments-dev\n",
			want: map[string]string{"checkout:prod": `{"team":"payments"}`, "checkout:dev": `{"team":"payments-dev"}`},
		},
		{
			name: "composite key in the configured order, own separator",
			cfg:  CSVConfig{KeyColumns: []string{"env", "service"}, Separator: "|"},
			in:   "service,env,team\ncheckout,prod,payments\n",
			want: map[string]string{"prod|checkout": `{"team":"payments"}`},
		},
		{
			name: "composite key with an empty part",
			cfg:  CSVConfig{KeyColumns: composite},
			in:   "service,env,team\ncheckout,,payments\n",
			want: map[string]string{"checkout:": `{"team":"payments"}`},
		},
		{
			name: "types",
			cfg:  CSVConfig{KeyColumns: service, Types: map[string]string{"tier": "int", "weight": "double", "ratio": "double", "big": "double", "active": "bool", "code": "string"}},
			in:   "service,tier,weight,ratio,big,active,code\ncheckout, 007 ,5,0.25,1e21,TRUE,007\ncart,-3,-0,1.5e-7,12345678901234567890,0,x\n",
			want: map[string]string{
				"checkout": `{"tier":7,"weight":5.0,"ratio":0.25,"big":1e+21,"active":true,"code":"007"}`,
				"cart":     `{"tier":-3,"weight":-0.0,"ratio":1.5e-07,"big":1.2345678901234567e+19,"active":false,"code":"x"}`,
			},
		},
		{
			name: "empty cells are left out, of every type",
			cfg:  CSVConfig{KeyColumns: service, Types: map[string]string{"tier": "int"}},
			in:   "service,team,tier,owner\ncheckout,,  ,alice\ncart,,,\n",
			want: map[string]string{"checkout": `{"owner":"alice"}`, "cart": `{}`},
		},
		{
			name: "only key columns",
			cfg:  CSVConfig{KeyColumns: service},
			in:   "service\ncheckout\n",
			want: map[string]string{"checkout": `{}`},
		},
		{
			name: "BOM, CRLF, blank lines, spaces around header names",
			cfg:  CSVConfig{KeyColumns: service},
			in:   "\xef\xbb\xbf service , team \r\n\r\ncheckout,payments\r\n",
			want: map[string]string{"checkout": `{"team":"payments"}`},
		},
		{
			name: "a value column read as a table when key_columns is set",
			cfg:  CSVConfig{KeyColumns: []string{"key"}},
			in:   "key,value,comment\nk,v,c\n",
			want: map[string]string{"k": `{"value":"v","comment":"c"}`},
		},
		{
			name: "a value column read as a table when types is set",
			cfg:  CSVConfig{Types: map[string]string{"value": "int"}},
			in:   "key,value\nk,42\n",
			want: map[string]string{"k": `{"value":42}`},
		},
		{
			name: "no value column: a table keyed by the key column",
			in:   "key,val\nk,v\n",
			want: map[string]string{"k": `{"val":"v"}`},
		},

		{name: "bad int", cfg: CSVConfig{KeyColumns: service, Types: map[string]string{"tier": "int"}}, in: "service,team,tier\ncheckout,payments,1\ncart,web,s3cr3t\n", wantErr: `line 3, column 3 ("tier"): not an int: invalid syntax`},
		{name: "int out of range", cfg: CSVConfig{KeyColumns: service, Types: map[string]string{"tier": "int"}}, in: "service,tier\ncheckout,99999999999999999999\n", wantErr: `line 2, column 2 ("tier"): not an int: value out of range`},
		{name: "fraction in an int", cfg: CSVConfig{KeyColumns: service, Types: map[string]string{"tier": "int"}}, in: "service,tier\ncheckout,1.5\n", wantErr: `line 2, column 2 ("tier"): not an int: invalid syntax`},
		{name: "bad double", cfg: CSVConfig{KeyColumns: service, Types: map[string]string{"w": "double"}}, in: "service,w\ncheckout,s3cr3t\n", wantErr: `line 2, column 2 ("w"): not a double: invalid syntax`},
		{name: "infinite double", cfg: CSVConfig{KeyColumns: service, Types: map[string]string{"w": "double"}}, in: "service,w\ncheckout,+Inf\n", wantErr: `line 2, column 2 ("w"): not a double: JSON has no infinities or NaN`},
		{name: "NaN double", cfg: CSVConfig{KeyColumns: service, Types: map[string]string{"w": "double"}}, in: "service,w\ncheckout,NaN\n", wantErr: `line 2, column 2 ("w"): not a double`},
		{name: "bad bool", cfg: CSVConfig{KeyColumns: service, Types: map[string]string{"on": "bool"}}, in: "service,on\ncheckout,s3cr3t\n", wantErr: `line 2, column 2 ("on"): not a bool: want true or false`},
		{name: "bad cell on a later line of a quoted multi-line row", cfg: CSVConfig{KeyColumns: service, Types: map[string]string{"tier": "int"}}, in: "service,note,tier\ncheckout,\"a\nb\",s3cr3t\n", wantErr: `line 3, column 3 ("tier"): not an int`},
		{name: "duplicate key", cfg: CSVConfig{KeyColumns: service}, in: "service,team\ncheckout,s3cr3t\ncart,web\ncheckout,s3cr3t2\n", wantErr: `line 4, column 1 ("service"): duplicate key "checkout"`},
		{name: "duplicate composite key", cfg: CSVConfig{KeyColumns: composite}, in: "service,env,team\ncheckout,prod,s3cr3t\ncheckout,prod,s3cr3t2\n", wantErr: `line 3: duplicate key "checkout:prod"`},
		{name: "composite keys that join to the same key", cfg: CSVConfig{KeyColumns: composite}, in: "service,env,team\na:b,c,s3cr3t\na,b:c,s3cr3t2\n", wantErr: `line 3: duplicate key "a:b:c"`},
		{name: "empty key", cfg: CSVConfig{KeyColumns: service}, in: "service,team\n,s3cr3t\n", wantErr: `line 2, column 1 ("service"): empty key`},
		{name: "missing key column", cfg: CSVConfig{KeyColumns: composite}, in: "service,team\ncheckout,s3cr3t\n", wantErr: `line 1: the header has no key column "env" (file::csv::key_columns)`},
		{name: "missing default key column", in: "service,team\ncheckout,s3cr3t\n", wantErr: `line 1: the header has no "key" column; set file::csv::key_columns`},
		{name: "typed column not in the header", cfg: CSVConfig{KeyColumns: service, Types: map[string]string{"tier": "int"}}, in: "service,team\ncheckout,s3cr3t\n", wantErr: `file::csv::types::tier: the header (line 1) has no such column`},
		{name: "column named twice", cfg: CSVConfig{KeyColumns: service}, in: "service,team,team\ncheckout,s3cr3t,x\n", wantErr: `line 1, column 3: column "team" is also column 2`},
		{name: "empty column name", cfg: CSVConfig{KeyColumns: service}, in: "service,,team\ncheckout,s3cr3t,x\n", wantErr: `line 1, column 2: empty column name`},
		{name: "wrong number of fields", cfg: CSVConfig{KeyColumns: service}, in: "service,team\ncheckout,s3cr3t,extra\n", wantErr: "record on line 2: wrong number of fields"},
		{name: "bare quote", cfg: CSVConfig{KeyColumns: service}, in: "service,team\ncheckout,s3\"cr3t\n", wantErr: `parse error on line 2, column 12: bare " in non-quoted-field`},
		{name: "unterminated quote", cfg: CSVConfig{KeyColumns: service}, in: "service,team\ncheckout,\"s3cr3t\n", wantErr: `parse error on line 2`},
		{name: "no header", cfg: CSVConfig{KeyColumns: service}, in: "", wantErr: "missing header row"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkParse(t, FormatCSV, &tt.cfg, tt.in, tt.want, tt.wantErr)
		})
	}
}
