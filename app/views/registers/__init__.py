"""Registers (台账): the designer (Admin), every register's pages, and its REST resource."""
